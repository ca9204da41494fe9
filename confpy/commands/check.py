"""`confpy check`: validate every resource and compile every template, without etcd.

Besides the errors (exit 2), it prints what loading let pass (`warning:` lines: an unknown
field, an owner this machine lacks...) and where confd would behave differently with the same
file (`not as confd:` lines for a Go template's resource: owner/group, array commands,
confpy's own fields)."""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING

from confpy.commands._common import connection_flags, exit_codes, settings_from
from confpy.errors import EXIT_OK

if TYPE_CHECKING:
    from confpy.config.resource import TemplateResource

EXIT_CODES = exit_codes(
    ("0", "every resource loads and every template compiles"),
    (
        "2",
        "usage error, or a problem in a resource, template or setting (each one printed "
        "with its file and line)",
    ),
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "check",
        parents=[connection_flags()],
        help="validate resources and templates without contacting etcd",
        description="Read CONFDIR/conf.d/*.toml and compile every template in CONFDIR/templates, "
        "reporting every problem with its file and line. etcd is never contacted.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from confpy.apply.runner import load_config
    from confpy.render import cache as template_cache

    settings = settings_from(args)
    template_cache.configure()
    warnings: list[str] = []
    try:
        config = load_config(settings.confdir, settings.prefix, warn=warnings.append)
    finally:  # the warnings too when another file's errors stop the load
        for warning in warnings:
            print(f"warning: {warning}")
    for resource in config.resources:
        for note in confd_differences(resource):
            print(f"not as confd: {resource.path}: {note}")
    names = ", ".join(r.name for r in config.resources)
    print(f"{len(config.resources)} resources OK in {settings.confdir}: {names}")
    return EXIT_OK


def confd_differences(resource: TemplateResource) -> list[str]:
    """What confd (master) would do differently with this resource file, one line each:
    for a Go template's resource (a Jinja2 one is confpy's own, which confd cannot run)."""
    import tomllib

    # Here, not at the top: `confpy --help` imports this module (tests/test_imports.py).
    from confpy.config.fields import KNOWN_FIELDS
    from confpy.config.values import CONFD_FIELDS

    if resource.syntax != "go":
        return []

    try:
        table = tomllib.loads(resource.path.read_text()).get("template", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []  # it loaded a moment ago; a file changing under check is not our report
    notes = []
    for name in ("owner", "group"):
        if name in table:
            notes.append(f"{name}: confd ignores this field; confpy gives the file this {name}")
    for name in ("check_cmd", "reload_cmd"):
        if isinstance(table.get(name), list):
            notes.append(f"{name}: confd refuses an array; confpy runs it without a shell")
    check_cmd = table.get("check_cmd")
    if isinstance(check_cmd, str) and re.search(r"\{\{\s*\.?dest\s*\}\}", check_cmd):
        notes.append("check_cmd: confd has no {{.dest}} (it runs '<no value>'); confpy gives dest")
    if isinstance(check_cmd, str) and "{{" in re.sub(r"\{\{\s*\.?(src|dest)\s*\}\}", "", check_cmd):
        notes.append(
            "check_cmd: confd runs it through Go's text/template; confpy replaces only "
            "{{.src}} and {{.dest}}"
        )
    own = sorted(k for k in table if k in KNOWN_FIELDS and k not in CONFD_FIELDS)
    own = [k for k in own if k not in ("owner", "group")]
    if own:
        notes.append(f"{', '.join(own)}: confpy's own fields, which confd ignores")
    return notes
