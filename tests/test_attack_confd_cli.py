"""`confpy confd` as a confd user runs it: files saved by Windows editors, odd spellings.

Each test names what the real confd does with the same input; the file-based ones need no
etcd (`-backend env`).
"""

from __future__ import annotations

from pathlib import Path

from confpy.config.confd import read_config_file
from confpy.config.settings import load_settings
from tests.conftest import Confpy

BOM = "\ufeff"


def env_confdir(root: Path, *, bom: bool = False) -> Path:
    """A confdir rendering `/app/name` from the env backend into root/out."""
    (root / "conf.d").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "templates" / "a.tmpl").write_text('name={{ getv "/app/name" }}\n')
    toml = f'[template]\r\nsrc = "a.tmpl"\r\ndest = "{root}/out"\r\nkeys = ["/app"]\r\n'
    (root / "conf.d" / "a.toml").write_text((BOM if bom else "") + toml, newline="")
    return root


def test_confd_toml_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """confd (BurntSushi/toml) skips a UTF-8 BOM at the start of confd.toml; so does confpy."""
    path = tmp_path / "confd.toml"
    path.write_text(BOM + 'backend = "env"\r\nprefix = "/x"\r\n', newline="")
    values, warnings = read_config_file(path)
    assert values == {"backend": "env", "prefix": "/x"}
    assert warnings == []


def test_confpy_toml_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """confpy's own confpy.toml saved with a BOM is read, as confd.toml is."""
    (tmp_path / "confpy.toml").write_text(BOM + 'prefix = "/x"\n')
    settings = load_settings({"confdir": str(tmp_path)}, {})
    assert settings.prefix == "/x"


def test_resource_file_with_a_byte_order_mark_is_read_as_confd_reads_it(
    tmp_path: Path, confpy_offline: Confpy
) -> None:
    """conf.d/a.toml saved with a BOM and CRLF renders, as with confd."""
    root = env_confdir(tmp_path, bom=True)
    result = confpy_offline.run(
        "confd", "-onetime", "-backend", "env", "-confdir", str(root), "-log-level", "error",
        env=confpy_offline.env(APP_NAME="web"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (root / "out").read_text() == "name=web\n"


def test_an_ipv6_node_is_shown_and_sent_in_brackets() -> None:
    """`-node http://[::1]:2379` is shown (and sent as the Host header) as `[::1]:2379`:
    `http://::1:2379` is no URL, and Host: ::1:2379 is not valid HTTP (RFC 9110 §7.2)."""
    from confpy.config.settings import parse_endpoint

    endpoint = parse_endpoint("http://[::1]:2379", source="-node")
    assert str(endpoint) == "http://[::1]:2379"
    assert endpoint.netloc == "[::1]:2379"
    assert parse_endpoint(str(endpoint)) == endpoint
