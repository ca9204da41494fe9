"""confd's configuration layers (flags, confd.toml, CONFD_* and ETCDCTL_PEERS) as confd builds them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confpy.commands import confd as confd_command
from confpy.config.confd import ConfdConfig, build, parse_command_line
from confpy.errors import ConfigError
from confpy.redact import redact_url


def config(tmp_path: Path, toml: str | None, *argv: str, **env: str) -> ConfdConfig:
    file = tmp_path / "confd.toml"
    if toml is not None:
        file.write_text(toml)
    return build(parse_command_line(["-config-file", str(file), *argv]), env)


def test_defaults_are_confds(tmp_path: Path) -> None:
    """No flags, no file: backend etcd on 127.0.0.1:4001, /etc/confd, interval 600."""
    c = config(tmp_path, None)
    assert c.text("backend") == "etcd"
    assert c.items("node") == ("http://127.0.0.1:4001",)
    assert c.text("confdir") == "/etc/confd" and c.interval == 600
    assert c.text("filter") == "*" and c.text("scheme") == "http"


def test_etcdv3_defaults_to_127_0_0_1_2379(tmp_path: Path) -> None:
    """confd's etcdv3 default node."""
    assert config(tmp_path, None, "-backend", "etcdv3").items("node") == ("127.0.0.1:2379",)


def test_confd_toml_wins_over_the_command_line(tmp_path: Path) -> None:
    """confd decodes its file over the parsed flags: the file's prefix and nodes win."""
    c = config(tmp_path, 'prefix = "/file"\nnodes = ["http://f:1"]\n', "-prefix", "/flag",
               "-node", "http://flag:1")  # fmt: skip
    assert c.text("prefix") == "/file"
    assert c.items("node") == ("http://f:1",)


def test_flags_the_file_does_not_set_keep_their_value(tmp_path: Path) -> None:
    """Only keys present in the file override."""
    c = config(tmp_path, 'prefix = "/file"\n', "-backend", "env", "-onetime")
    assert c.text("backend") == "env" and c.on("onetime")


def test_file_keys_match_case_insensitively_and_untagged_fields_count(tmp_path: Path) -> None:
    """BurntSushi/toml: `Log-Level`, `PREFIX`, and `onetime`/`keepstagefile` (no tag) apply."""
    c = config(
        tmp_path, 'Log-Level = "debug"\nPREFIX = "/p"\nonetime = true\nkeepstagefile = true\n'
    )
    assert c.text("log-level") == "debug" and c.text("prefix") == "/p"
    assert c.on("onetime") and c.on("keep-stage-file")


def test_unknown_file_keys_are_ignored_with_a_warning_naming_file_and_line(
    tmp_path: Path,
) -> None:
    """confd ignores `log_level` silently; confpy says so, one line per key."""
    c = config(tmp_path, 'backend = "env"\nlog_level = "debug"\n')
    assert c.text("log-level") == ""
    assert c.warnings == (f"{tmp_path / 'confd.toml'}:2: unknown key 'log_level' ignored "
                          "(as confd ignores it)",)  # fmt: skip


def test_bad_toml_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    """`prefix =` with no value: ConfigError FILE:LINE, no traceback."""
    with pytest.raises(ConfigError) as e:
        config(tmp_path, 'backend = "env"\nprefix =\n')
    message = str(e.value)
    assert message.startswith(f"{tmp_path / 'confd.toml'}:2: invalid TOML")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("toml", "key"),
    [('interval = "10"', "interval"), ('nodes = "a:1"', "nodes"), ("watch = 1", "watch"),
     ('file = ["a", 1]', "file")],
)  # fmt: skip
def test_a_value_of_the_wrong_type_names_file_line_and_key(
    tmp_path: Path, toml: str, key: str
) -> None:
    """confd refuses these too ("incompatible types"); confpy in one line."""
    with pytest.raises(ConfigError, match=rf"confd\.toml:1: {key}: must be"):
        config(tmp_path, toml + "\n")


def test_a_config_file_that_is_a_directory_is_an_error(tmp_path: Path) -> None:
    """confd: "read ...: is a directory", exit 1."""
    with pytest.raises(ConfigError, match="cannot read"):
        build(parse_command_line(["-config-file", str(tmp_path)]), {})


def test_confd_client_variables_fill_only_what_flags_and_file_left_empty(tmp_path: Path) -> None:
    """CONFD_CLIENT_CERT/KEY/CAKEYS are the last layer, used only when nothing else set it."""
    c = config(tmp_path, 'client_cert = "/file.crt"\n', "-client-key", "/flag.key",
               CONFD_CLIENT_CERT="/env.crt", CONFD_CLIENT_KEY="/env.key",
               CONFD_CLIENT_CAKEYS="/env.ca")  # fmt: skip
    assert c.text("client-cert") == "/file.crt"
    assert c.text("client-key") == "/flag.key"
    assert c.text("client-ca-keys") == "/env.ca"


def test_etcdctl_peers_are_the_etcd_backends_nodes_when_none_are_given(tmp_path: Path) -> None:
    """-backend etcd without -node reads ETCDCTL_PEERS (comma-separated)."""
    c = config(tmp_path, None, ETCDCTL_PEERS="http://a:1,http://b:2")
    assert c.items("node") == ("http://a:1", "http://b:2")
    assert config(tmp_path, None, "-backend", "etcdv3", ETCDCTL_PEERS="http://a:1").items(
        "node"
    ) == ("127.0.0.1:2379",)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://admin:pw@h:2379", "http://admin:***@h:2379"),
        ("https://u:p@a@h:1/x", "https://u:***@h:1/x"),
        ("admin:pw@h:2379", "admin:***@h:2379"),
        ("http://h:2379", "http://h:2379"),
    ],
)
def test_redact_url_hides_the_password(url: str, shown: str) -> None:
    """A node URL's password never reaches a message."""
    assert redact_url(url) == shown


@settings(max_examples=200)
@given(st.lists(st.text(max_size=10), max_size=6))
def test_the_confd_command_answers_any_argv_with_0_or_2_and_no_traceback(
    argv: list[str],
) -> None:
    """`confpy confd ARGV` (run stubbed out): parsed (0), help (0), a config file it cannot
    read (1), or Go's line (2); never an exception."""
    original = confd_command.run
    confd_command.run = lambda *a, **k: 0  # type: ignore[assignment]
    try:
        code = confd_command.main(argv)
    finally:
        confd_command.run = original
    assert code in (0, 1, 2)


def test_confd_help_and_version_load_no_network_or_template_engine(tmp_path: Path) -> None:
    """`confpy confd -help` and `-version` start as light as `confpy --help`."""
    from tests.conftest import Confpy
    from tests.modules_probe import NETWORK, loaded_modules, present

    for flag in ("-help", "-version"):
        modules = loaded_modules(Confpy(None), tmp_path, "confd", flag)
        assert not present(modules, NETWORK | {"jinja2", "confpy.gotemplate.engine", "yaml"})


def test_srv_records_give_the_nodes_with_the_scheme_for_etcd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """-srv-domain example.com: `_etcd._tcp.example.com.` looked up, nodes `http://host:port`
    (the scheme for `etcd` only, as confd)."""
    import dns.resolver

    asked: list[str] = []

    class Record:
        def __init__(self, target: str, port: int) -> None:
            self.target, self.port = target, port

    def resolve(name: str, kind: str) -> list[Record]:
        asked.append(f"{name} {kind}")
        return [Record("etcd-1.example.com.", 2379), Record("etcd-2.example.com.", 4001)]

    monkeypatch.setattr(dns.resolver, "resolve", resolve)
    expected = ["http://etcd-1.example.com:2379", "http://etcd-2.example.com:4001"]
    for backend in ("etcd", "etcdv3"):
        c = config(tmp_path, None, "-backend", backend, "-srv-domain", "example.com")
        settings = confd_command.confd_settings(c, backend, "info")
        assert [str(e) for e in settings.endpoints] == expected
    assert asked == ["_etcd._tcp.example.com. SRV", "_etcdv3._tcp.example.com. SRV"]
