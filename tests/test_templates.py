"""Rendering is pure: a resource and a snapshot in, bytes out."""

from pathlib import Path

import pytest

from confpy.config.resource import load_resources
from confpy.errors import MissingKeyError, RenderError, TemplateSyntaxError
from confpy.render.templates import TemplateSet
from confpy.store.snapshot import Snapshot
from tests.helpers import ConfTree


def render(
    tmp_path: Path,
    template: str,
    values: dict[str, bytes],
    keys: list[str] | None = None,
    prefix: str = "",
) -> bytes:
    tree = ConfTree(tmp_path)
    tree.simple("app", template, keys or ["/"], extra=f'prefix = "{prefix}"\n' if prefix else "")
    loaded = load_resources(tree.confdir)
    assert not loaded.errors, loaded.errors
    templates, errors = TemplateSet.load(tree.confdir / "templates", loaded.resources)
    if errors:
        raise errors[0]
    return templates.render(loaded.resources[0], Snapshot(7, values))


def test_values_render_and_trailing_newline_is_kept(tmp_path: Path) -> None:
    """Output is exactly the template with values filled in, final newline included."""
    out = render(tmp_path, "host={{ getv('/db/host') }}\n", {"/db/host": b"db1"})
    assert out == b"host=db1\n"


def test_keys_are_relative_to_the_resource_prefix(tmp_path: Path) -> None:
    """With prefix /prod, `getv('/db/host')` reads /prod/db/host."""
    out = render(
        tmp_path,
        "{{ getv('/db/host') }}",
        {"/prod/db/host": b"p", "/db/host": b"x"},
        keys=["/db"],
        prefix="/prod",
    )
    assert out == b"p"


def test_only_the_resource_keys_are_visible(tmp_path: Path) -> None:
    """A template cannot read keys outside its resource's `keys`."""
    with pytest.raises(MissingKeyError):
        render(tmp_path, "{{ getv('/secret') }}", {"/secret": b"s", "/app": b"a"}, keys=["/app"])


def test_missing_key_names_key_template_and_line(tmp_path: Path) -> None:
    """The error says which key, which template file and which line."""
    with pytest.raises(MissingKeyError) as e:
        render(tmp_path, "a\nb\n{{ getv('/nope') }}\n", {})
    assert e.value.key == "/nope"
    assert e.value.line == 3
    assert str(e.value).endswith("app.j2:3: key not found: /nope")


def test_undefined_name_is_an_error_not_empty_output(tmp_path: Path) -> None:
    """Jinja's undefined names fail loudly."""
    with pytest.raises(RenderError, match=r"app.j2:1: 'hostt' is undefined"):
        render(tmp_path, "{{ hostt }}", {})


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    """A template that does not compile is reported at load time."""
    with pytest.raises(TemplateSyntaxError, match=r"app.j2:2: "):
        render(tmp_path, "ok\n{% if %}\n", {})


def test_value_from_etcd_is_never_evaluated_as_a_template(tmp_path: Path) -> None:
    """A value containing template syntax comes out literally."""
    out = render(tmp_path, "{{ getv('/v') }}", {"/v": b"{{ 7*7 }}{% raw %}"})
    assert out == b"{{ 7*7 }}{% raw %}"


def test_value_that_is_not_utf8_is_written_as_the_same_bytes(tmp_path: Path) -> None:
    """A binary value a template copies comes out byte for byte, as confd writes it."""
    out = render(tmp_path, "<{{ getv('/bin') }}>", {"/bin": b"\xff\xfe\x00ok"})
    assert out == b"<\xff\xfe\x00ok>"


def test_value_that_is_not_utf8_and_never_read_cannot_fail_the_resource(tmp_path: Path) -> None:
    """Anyone who can write under a shared prefix cannot block a render with bad bytes."""
    out = render(tmp_path, "{{ getv('/app/ok') }}", {"/app/ok": b"fine", "/app/junk": b"\xff"})
    assert out == b"fine"


def test_tojson_makes_any_value_safe_in_json(tmp_path: Path) -> None:
    """Quotes, backslashes and newlines in a value cannot break the JSON document."""
    import json

    out = render(tmp_path, '{"v": {{ getv("/v") | tojson }}}', {"/v": b'a"b\\c\nd'})
    assert json.loads(out) == {"v": 'a"b\\c\nd'}


def test_range_over_gets_with_confd_field_names(tmp_path: Path) -> None:
    """confd-style iteration works in Jinja syntax."""
    tpl = "{% for kv in gets('/up/*') %}{{ kv.Key }}={{ kv.Value }};{% endfor %}"
    out = render(tmp_path, tpl, {"/up/b": b"2", "/up/a": b"1"})
    assert out == b"/up/a=1;/up/b=2;"


def test_include_cannot_leave_the_templates_directory(tmp_path: Path) -> None:
    """`{% include "../../etc/passwd" %}` is not found, whatever exists there."""
    (tmp_path / "secret").write_text("root:x:0:0")
    with pytest.raises(RenderError, match=r"app\.j2:1: ") as e:
        render(tmp_path, '{% include "../../secret" %}', {})
    assert "root:x" not in str(e.value)
