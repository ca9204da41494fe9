"""Settings precedence: flags > environment > CONFDIR/confpy.toml > defaults."""

from pathlib import Path

import pytest

from confpy.config.settings import load_settings
from confpy.errors import ConfigError


def test_defaults_point_at_local_etcd_and_etc_confpy() -> None:
    """With nothing set: http://127.0.0.1:2379 and /etc/confpy."""
    s = load_settings({}, {})
    assert [str(e) for e in s.endpoints] == ["http://127.0.0.1:2379"]
    assert s.confdir == Path("/etc/confpy")


def test_flag_beats_environment_beats_file(tmp_path: Path) -> None:
    """Each layer overrides the one below it."""
    (tmp_path / "confpy.toml").write_text(
        'endpoints = ["http://file:1"]\nprefix = "/file"\nlog_level = "debug"\n'
    )
    env = {"CONFPY_ENDPOINTS": "http://env:2", "CONFPY_PREFIX": "/env"}
    s = load_settings({"confdir": str(tmp_path), "endpoints": ["http://flag:3"]}, env)
    assert [str(e) for e in s.endpoints] == ["http://flag:3"]
    assert s.prefix == "/env"
    assert s.log_level == "debug"


def test_comma_separated_and_confd_node_forms_are_accepted() -> None:
    """Several endpoints, with or without scheme."""
    s = load_settings({"endpoints": ["http://a:1,b:2", "https://c:3"]}, {})
    assert [str(e) for e in s.endpoints] == ["http://a:1", "http://b:2", "https://c:3"]


def test_password_comes_from_a_file_and_is_not_shown_in_repr(tmp_path: Path) -> None:
    """The password is read from a file and never printed."""
    (tmp_path / "pw").write_text("s3cret\n")
    s = load_settings({"username": "confpy", "password_file": str(tmp_path / "pw")}, {})
    assert s.password == "s3cret"
    assert "s3cret" not in repr(s)


def test_username_without_password_is_refused() -> None:
    """Half-configured authentication is an error, not a silent anonymous connection."""
    with pytest.raises(ConfigError, match="username and a password"):
        load_settings({"username": "confpy"}, {})


def test_unknown_key_in_settings_file_names_the_file(tmp_path: Path) -> None:
    """A typo in confpy.toml is reported with the file."""
    (tmp_path / "confpy.toml").write_text('endpoint = "http://x:1"\n')
    with pytest.raises(ConfigError, match=r"confpy.toml: unknown setting 'endpoint'"):
        load_settings({"confdir": str(tmp_path)}, {})


def test_bad_endpoint_names_its_source() -> None:
    """A malformed URL names the flag or variable it came from."""
    with pytest.raises(ConfigError, match="CONFPY_ENDPOINTS"):
        load_settings({}, {"CONFPY_ENDPOINTS": "ftp://x"})


def test_prefix_is_normalised() -> None:
    """`app/`, `/app` and `/app/` are the same prefix."""
    assert load_settings({"prefix": "app/"}, {}).prefix == "/app"


def test_password_file_flag_beats_password_in_environment(tmp_path: Path) -> None:
    """--password-file is a flag, so it wins over CONFPY_PASSWORD."""
    (tmp_path / "pw").write_text("from-file\n")
    s = load_settings(
        {"username": "u", "password_file": str(tmp_path / "pw")}, {"CONFPY_PASSWORD": "from-env"}
    )
    assert s.password == "from-file"


def test_paths_in_settings_file_are_relative_to_confdir(tmp_path: Path) -> None:
    """`ca_file = "etcd-ca.pem"` in confpy.toml means the file beside it."""
    (tmp_path / "etcd-ca.pem").write_text("x")
    (tmp_path / "confpy.toml").write_text('ca_file = "etcd-ca.pem"\n')
    s = load_settings({"confdir": str(tmp_path)}, {})
    assert s.ca_file == tmp_path / "etcd-ca.pem"
