"""Key names from etcd through the messages they reach: bounded, whatever their length.

etcd takes key names up to its request limit (1.5 MiB). A name is data from etcd: a
message about one names it in a bounded form, or a single key floods the log, journald
(which cuts lines at 48 KiB) and every error line.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Confpy

LONG = 200_000


def test_a_very_long_each_key_name_is_refused_in_a_bounded_line(
    tmp_path: Path, confpy_offline: Confpy
) -> None:
    """An `each` match named by a 200,000-character key: refused with lines of at most a
    few KB (the name shortened, its length and checksum), the other files written."""
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "templates" / "e.tmpl").write_text('x={{ getv "/svc/ok" }}\n')
    (tmp_path / "conf.d" / "e.toml").write_text(
        f'[template]\nsrc = "e.tmpl"\ndest = "{tmp_path}/out/{{{{ name }}}}.conf"\n'
        'each = "/svc/*"\nkeys = ["/svc"]\n'
    )
    (tmp_path / "data.json").write_text(json.dumps({"/svc/ok": "1", "/svc/" + "a" * LONG: "2"}))
    result = confpy_offline.run(
        "render", "--onetime", "--confdir", str(tmp_path), "--data", str(tmp_path / "data.json")
    )
    assert result.returncode != 0
    assert (tmp_path / "out" / "ok.conf").read_text() == "x=1\n"
    assert max(len(line) for line in result.stderr.splitlines()) < 4096
