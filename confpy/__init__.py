"""confpy keeps configuration files in sync with etcd.

The public surface is the `confpy` command; modules are internal unless documented.
"""

__version__ = "0.1.0"
"""The one place the version is written; pyproject.toml reads it from here."""
