"""Templates to bytes, purely: the Jinja2 environment, the compiled-template cache, output
validation.
"""
