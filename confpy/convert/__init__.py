"""`confpy convert`: confd Go templates rewritten as Jinja2, as a pass over the Go engine's own
parse tree.
"""
