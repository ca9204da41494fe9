"""confd's template functions (and the maintained fork's), written once: the Jinja2 adapters
live here, the Go engine's in confpy.gotemplate.
"""
