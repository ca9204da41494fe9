"""One redaction rule: no message, log line, metric or HTTP body carries a value from etcd.

A PEM private key goes through every template function and filter, in both engines, and
every output channel is searched for any piece of it: the exception text, stderr, the
JSON log, the /healthz body and /metrics.
"""

from __future__ import annotations

import traceback
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from confpy.errors import RenderError, TemplateSyntaxError
from confpy.functions import kv as keyfuncs
from confpy.functions import static as funcs
from confpy.redact import describe_key, redact
from confpy.render.jinja_env import make_environment
from confpy.store import EtcdStore
from confpy.testing.etcd import free_port
from tests.conftest import Confpy, wait_for
from tests.daemons import Watcher, read
from tests.helpers import ConfTree, pem, render_resource

NETWORK = {"lookupIP", "lookupIPV4", "lookupIPV6", "lookupSRV"}
JINJA_FUNCTIONS = sorted((set(funcs.STATIC_FUNCTIONS) | set(keyfuncs.KEY_FUNCTION_NAMES)) - NETWORK)
JINJA_FILTERS = sorted(make_environment(Path("/nonexistent")).filters)
GO_FUNCTIONS = sorted(
    (set(funcs.STATIC_FUNCTIONS) | set(keyfuncs.KEY_FUNCTION_NAMES) - NETWORK)
    | {
        "print",
        "printf",
        "println",
        "len",
        "index",
        "slice",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "html",
        "js",
        "urlquery",
        "and",
        "or",
        "not",
    }
)
ARGUMENTS = ("K", "K, K", "K, 3", "3, K", "K, K, K", "K, 'a', 'b'")


def fragments(text: str) -> list[str]:
    """Every 16-character stretch of the key's base64 body, and its header."""
    body = "".join(text.splitlines()[1:-1])
    return ["PRIVATE KEY", *(body[i : i + 16] for i in range(0, len(body) - 16, 4))]


def leaked(channel: str) -> list[str]:
    return [f for f in fragments(pem()) if f in channel]


def assert_contained(tmp_path: Path, name: str, source: str) -> None:
    """Rendering either succeeds or fails with a RenderError that shows no piece of the key."""
    try:
        render_resource(tmp_path, name, source, {"/k": pem(), "/s/x": "x"})
    except (RenderError, TemplateSyntaxError) as e:  # compiling never sees a value
        text = str(e) + repr(e) + "".join(traceback.format_exception(e))
        assert not leaked(text), (source, str(e))
        assert "\n" not in str(e)


@pytest.mark.parametrize("function", JINJA_FUNCTIONS)
def test_no_jinja_function_puts_a_value_in_its_error(tmp_path: Path, function: str) -> None:
    for args in ARGUMENTS:
        call = f"{function}({args.replace('K', 'getv(' + repr('/k') + ')')})"
        assert_contained(tmp_path, "t.j2", f"{{{{ {call} }}}}")
        assert_contained(tmp_path, "t.j2", f"{{{{ {{}}[{call}] }}}}")  # its result quoted back


@pytest.mark.parametrize("name", JINJA_FILTERS)
def test_no_jinja_filter_puts_a_value_in_its_error(tmp_path: Path, name: str) -> None:
    for source in (
        f"{{{{ getv('/k') | {name} }}}}",
        f"{{{{ {{}}[getv('/k') | {name}] }}}}",
        f"{{{{ getv('/k') | {name}(getv('/k')) }}}}",
        f"{{{{ 3 | {name}(getv('/k')) }}}}",
    ):
        assert_contained(tmp_path, "t.j2", source)


@pytest.mark.parametrize("function", GO_FUNCTIONS)
def test_no_go_function_puts_a_value_in_its_error(tmp_path: Path, function: str) -> None:
    assert set(GO_FUNCTIONS) >= {n for n in funcs.STATIC_FUNCTIONS if n not in NETWORK}
    for args in ("$k", "$k $k", "$k 3", "3 $k", "$k 1 2"):
        head = '{{$k := getv "/k"}}'
        assert_contained(tmp_path, "t.tmpl", f"{head}{{{{{function} {args}}}}}")
        assert_contained(tmp_path, "t.tmpl", f'{head}{{{{index (map "a" 1) ({function} {args})}}}}')
        assert_contained(tmp_path, "t.tmpl", f"{head}{{{{({function} {args}).Foo}}}}")


@pytest.mark.parametrize(
    "source",
    [
        "{{ parseBool(getv('/k')) }}",
        "{{ seq(getv('/k'), 3) }}",
        "{{ {}[getv('/k')] }}",
        "{{ getv('/s/' ~ getv('/k')) }}",
        "{{ getv('/s/' ~ getv('/k') | upper) }}",
        "{{ {}[getv('/k') | reverse] }}",
        "{{ {}[base64Encode(getv('/k'))] }}",
        "{{ {}[split(getv('/k'), '\\n')[1]] }}",
        "{{ gets('[' ~ getv('/k')) }}",
    ],
)
def test_the_reported_leaks_are_closed(tmp_path: Path, source: str) -> None:
    """The cases issue 10 found (and their transformed variants) fail without the key."""
    with pytest.raises(RenderError) as e:
        render_resource(tmp_path, "t.j2", source, {"/k": pem(), "/s/x": "x"})
    assert not leaked(str(e.value)), str(e.value)


def test_atoi_describes_the_value_by_length(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=rf"atoi: not an integer: {len(pem())}-character string$"):
        render_resource(tmp_path, "t.j2", "{{ atoi(getv('/k')) }}", {"/k": pem()})


def test_a_quoted_whole_value_is_named_by_its_key() -> None:
    """Rule 1: a quoted value becomes its key and length, so the message still helps."""
    text = redact("'dict object' has no attribute 'hunter22'", {"/app/password": "hunter22"})
    assert text == "'dict object' has no attribute <value of /app/password: 8 characters>"


def test_what_the_templates_say_may_be_quoted_back() -> None:
    """Literals an operator wrote are configuration, not secrets."""
    text = redact(
        "'dict object' has no attribute 'hostname'",
        {"/k": "secret-ish"},
        ["{{ json(getv('/k')).hostname }}"],
    )
    assert text == "'dict object' has no attribute 'hostname'"


def test_a_key_built_from_a_value_is_described() -> None:
    assert describe_key("/app/db/host") == "/app/db/host"
    assert describe_key("/s/-----BEGIN PRIVATE KEY-----\nMII").startswith(
        "<34-character key, sha256:"
    )


# -- every output channel of real processes ----------------------------------------------------

LEAKY = {
    "parsebool": "{{ parseBool(getv('/s/key')) }}",
    "seq": "{{ seq(getv('/s/key'), 3) }}",
    "dict": "{{ {}[getv('/s/key')] }}",
    "indirect": "{{ getv('/s/' ~ getv('/s/key')) }}",
    "atoi": "{{ atoi(getv('/s/key')) }}",
}
LEAKY_GO = {
    "goindex": '{{index (getv "/s/key") (getv "/s/key")}}',
    "gogetv": '{{getv (printf "/s/%s" (getv "/s/key"))}}',
    "goprintf": '{{(printf "%s" (getv "/s/key")).Foo}}',
}


def _leaky_tree(tree: ConfTree) -> None:
    for name, source in LEAKY.items():
        tree.simple(name, source, ["/s"])
    for name, source in LEAKY_GO.items():
        tree.template(f"{name}.tmpl", source)
        tree.resource(
            name, f'[template]\nsrc = "{name}.tmpl"\ndest = "{{out}}/{name}"\nkeys = ["/s"]\n'
        )


@pytest.mark.etcd
def test_onetime_stderr_and_json_log_never_show_the_key(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    _leaky_tree(tree)
    store.put("/s/key", pem().encode())
    result = confpy.run(
        "render", "--onetime", "--confdir", str(tree.confdir), "--log-level", "debug"
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("confpy: error:")]
    assert len(errors) == len(LEAKY) + len(LEAKY_GO), result.stderr
    assert '"event": "resource failed"' in result.stderr
    assert not leaked(result.stderr + result.stdout)


@pytest.mark.etcd
def test_watch_log_healthz_and_metrics_never_show_the_key(
    confpy: Confpy, tree: ConfTree, store: EtcdStore, watchers: list[Watcher]
) -> None:
    _leaky_tree(tree)
    ok = tree.simple("ok", "{{ getv('/s/x') }}", ["/s/x"])
    store.put("/s/x", b"1")
    store.put("/s/key", pem().encode())
    port = free_port()
    w = Watcher(confpy, tree, "--health-addr", f"127.0.0.1:{port}")
    watchers.append(w)
    wait_for(lambda: read(ok) == "1", what="first render")

    def get(path: str) -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                return str(r.read().decode())
        except urllib.error.HTTPError as e:
            return str(e.read().decode())
        except OSError:
            return ""

    everything = set(LEAKY) | set(LEAKY_GO)
    health = wait_for(
        lambda: all(f'"{n}"' in (h := get("/healthz")) for n in everything) and h,
        what="every leaky resource reported failing",
    )
    assert isinstance(health, str)
    metrics = get("/metrics")
    assert "confpy_failing_resources" in metrics
    w.stop()
    assert not leaked(health), health
    assert not leaked(metrics)
    assert not leaked("".join(w.stderr))


@pytest.mark.etcd
def test_a_check_command_echoing_the_staged_file_shows_no_value(
    confpy: Confpy, tree: ConfTree, store: EtcdStore
) -> None:
    """What check_cmd prints about the file is scrubbed of its lines (issue 18: every line
    holding a value is hidden whole, see test_secrets_on_screen)."""
    tree.simple(
        "app",
        "ssl_key_material={{ getv('/s/key') }}\n",
        ["/s"],
        extra='check_cmd = "cat {{ src }}; exit 1"\n',
    )
    store.put("/s/key", pem().encode())
    result = confpy.run("render", "--onetime", "--confdir", str(tree.confdir))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("confpy: error:")]
    assert len(errors) == 1 and "check_cmd exited 1: <" in errors[0], result.stderr
    assert not leaked(result.stderr), errors[0]
