"""What the user wrote, read once and frozen: resources and their fields, settings, confd's
command line and confd.toml, key paths, command placeholders.
"""
