"""confd's Go text/template templates, translated to Jinja2 source at load time.

`translate(source, filename)` returns Jinja2 source that renders the same bytes as
text/template would with confd's functions; `GO_GLOBALS` holds the Go builtins that
source calls and must be merged into the Jinja environment's globals.
"""

from confpy.gotemplate.builtins import GO_GLOBALS
from confpy.gotemplate.translate import translate

__all__ = ["GO_GLOBALS", "translate"]
