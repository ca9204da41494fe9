"""confd's Go text/template templates: a direct engine, and a translator for `convert`.

`engine.GoTemplate` parses and executes a template with Go's semantics (what `render`
uses). `translate.translate_readable(tree, filename)` rewrites its parsed tree as Jinja2 that
renders the same bytes, or refuses (what `confpy convert` writes).
"""
