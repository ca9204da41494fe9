"""The Go libraries confd is built on, as Python: flag, yaml.v2, path, sort, strconv, unicode
tables, time formatting and memkv, so both template engines and `confpy confd` share one
copy of each.
"""
