"""Property tests: arbitrary bytes and strings through every template function and filter
never escape the resource boundary and never appear in a message.

Every template below is compiled once; Hypothesis then renders all of them against each
value it makes up. `CONFPY_HYPOTHESIS_EXAMPLES` raises the example count for a long run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from confpy.config.resource import TemplateResource
from confpy.errors import ConfigError, RenderError
from confpy.functions import kv as keyfuncs
from confpy.functions import static as funcs
from confpy.render.jinja_env import make_environment
from confpy.render.templates import TemplateSet
from confpy.store.snapshot import Snapshot

EXAMPLES = int(os.environ.get("CONFPY_HYPOTHESIS_EXAMPLES", "25"))
NETWORK = {"lookupIP", "lookupIPV4", "lookupIPV6", "lookupSRV"}
V = "getv('/v')"


def _jinja_sources() -> list[str]:
    out = []
    for f in sorted((set(funcs.STATIC_FUNCTIONS) | set(keyfuncs.KEY_FUNCTION_NAMES)) - NETWORK):
        for args in (V, f"{V}, {V}", f"{V}, 3", f"3, {V}"):
            out.append(f"{{{{ {f}({args}) }}}}")
        out.append(f"{{{{ {{}}[{f}({V})] }}}}")
    for name in sorted(make_environment(Path("/nonexistent")).filters):
        out.append(f"{{{{ {V} | {name} }}}}")
        out.append(f"{{{{ {{}}[{V} | {name}] }}}}")
    out += [
        f"{{{{ json({V}).a.b }}}}",
        f"{{{{ jsonArray({V})[0] }}}}",
        f"{{{{ getv('/s/' ~ {V}) }}}}",
        f"{{{{ 10 ** atoi({V}) }}}}",
        f"{{{{ 'x' * atoi({V}) }}}}",
        f"{{% for x in seq(1, {V}) %}}{{{{ x }}}}{{% endfor %}}",
    ]
    return out


def _go_sources() -> list[str]:
    names = sorted(
        (set(funcs.STATIC_FUNCTIONS) | set(keyfuncs.KEY_FUNCTION_NAMES) - NETWORK)
        | {
            "print",
            "printf",
            "println",
            "len",
            "index",
            "slice",
            "eq",
            "lt",
            "html",
            "js",
            "urlquery",
        }
    )
    out = []
    for f in names:
        for args in ("$v", "$v $v", "$v 3"):
            out.append(f'{{{{$v := getv "/v"}}}}{{{{{f} {args}}}}}')
        out.append(f'{{{{$v := getv "/v"}}}}{{{{({f} $v).Foo}}}}')
    out.append('{{$v := getv "/v"}}{{range $x := json $v}}{{$x}}{{end}}')
    return out


class Compiled:
    """Every source above as a resource of its own, compiled once."""

    def __init__(self, root: Path) -> None:
        templates = root / "templates"
        templates.mkdir()
        self.resources: list[TemplateResource] = []
        for i, source in enumerate(_jinja_sources() + _go_sources()):
            go = source.startswith("{{$")
            name = f"t{i}.tmpl" if go else f"t{i}.j2"
            (templates / name).write_text(source)
            self.resources.append(
                TemplateResource(
                    name=f"t{i}",
                    path=root / f"t{i}.toml",
                    src=templates / name,
                    dest=root / "out" / f"t{i}",
                    keys=("/",),
                    syntax="go" if go else "jinja",
                )
            )
        self.set, errors = TemplateSet.load(templates, self.resources)
        # Some Go calls do not compile (wrong arity): a compile error never sees a value.
        assert all(isinstance(e, ConfigError) for e in errors)
        self.public = "\0".join(self.set.public)
        assert len(self.set.compiled) > 300


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Compiled:
    return Compiled(tmp_path_factory.mktemp("property"))


def check_every_template(compiled: Compiled, raw: bytes) -> None:
    text = raw.decode("utf-8", "surrogateescape")
    snapshot = Snapshot(1, {"/v": raw, "/s/x": b"x"})
    for r in compiled.resources:
        if r.src.name not in compiled.set.compiled:
            continue
        try:
            compiled.set.render(r, snapshot)
        except RenderError as e:  # anything else escaping fails the test
            message = str(e)
            assert "\n" not in message and len(message) < 1000
            if len(text) >= 16 and text not in compiled.public:
                assert text not in e.reason, (r.src.read_text(), message)


values = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300),
    st.text(min_size=16, max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=5), children, max_size=4)
        ),
        max_leaves=20,
    ).map(lambda v: json.dumps(v)),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=values)
def test_no_value_escapes_the_resource_boundary_or_appears_in_a_message(
    compiled: Compiled, value: str | bytes
) -> None:
    raw = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    check_every_template(compiled, raw)


@settings(
    max_examples=max(EXAMPLES // 3, 10),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    secret=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=16, max_size=80)
)
def test_a_secret_wrapped_in_any_text_is_never_quoted_back(compiled: Compiled, secret: str) -> None:
    """The secret inside a longer value (a PEM body inside its armour) stays hidden too."""
    raw = f"-----BEGIN X-----\n{secret}\n-----END X-----\n".encode()
    text = raw.decode()
    snapshot = Snapshot(1, {"/v": raw, "/s/x": b"x"})
    for r in compiled.resources:
        if r.src.name not in compiled.set.compiled:
            continue
        try:
            compiled.set.render(r, snapshot)
        except RenderError as e:
            if secret not in compiled.public and text not in compiled.public:
                assert secret not in e.reason, (r.src.read_text(), str(e))
