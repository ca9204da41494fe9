"""`confpy convert`: rewrite confd Go templates as readable Jinja2, one file or a confdir."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from confpy.commands._common import exit_codes
from confpy.errors import EXIT_OK, ConfigError

EXIT_CODES = exit_codes(
    ("0", "translated (templates kept as Go templates are named on stderr)"),
    ("2", "usage error, or a template or confd directory that cannot be read"),
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "convert",
        help="rewrite confd Go templates as readable Jinja2 (where that keeps every byte)",
        description="Print the Jinja2 translation of one Go TEMPLATE, or copy --confdir to "
        "--out with every templates/*.tmpl rewritten as .j2 and conf.d/*.toml pointed at it. "
        "Converted templates render the same bytes as the originals. A template that plain "
        "Jinja cannot render exactly is kept as .tmpl (confpy runs it as it is) and named "
        "on stderr.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "template",
        metavar="TEMPLATE",
        nargs="?",
        help="one Go template file to translate to stdout",
    )
    p.add_argument("--confdir", metavar="DIR", help="a confd directory with conf.d/ and templates/")
    p.add_argument("--out", metavar="DIR", help="where the converted confdir is written")
    p.add_argument(
        "--force", action="store_true", help="write into --out even when it already holds files"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from confpy.convert.tree import convert_template, convert_tree

    if args.template:
        if args.confdir or args.out:
            raise ConfigError("give either TEMPLATE or --confdir/--out, not both")
        path = Path(args.template)
        try:
            source = path.read_bytes().decode("utf-8")  # keeps CRs (no universal newlines)
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read template: {e}", file=str(path)) from None
        sys.stdout.write(convert_template(source, str(path)))
        return EXIT_OK
    if not args.confdir or not args.out:
        raise ConfigError("convert needs a TEMPLATE, or both --confdir and --out")

    def keep(template: Path, reason: str) -> None:
        print(f"kept as Go template: {template}: {reason}", file=sys.stderr)

    written = convert_tree(Path(args.confdir), Path(args.out), args.force, on_keep=keep)
    print(f"wrote {len(written)} files to {args.out}")
    return EXIT_OK
