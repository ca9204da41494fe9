"""confd's template functions, under confd's names and with confd's semantics."""

import pytest

from confpy.errors import MissingKeyError, RenderError
from confpy.functions import kv as keyfuncs
from confpy.functions import static as funcs

VIEW = {
    "/upstream/a": "10.0.0.1:80",
    "/upstream/b": "10.0.0.2:80",
    "/upstream/b/weight": "5",
    "/app/name": "web",
    "/app/db/host": "db1",
    "/app/db/port": "5432",
}


@pytest.fixture
def kf() -> keyfuncs.KeyFunctions:
    return keyfuncs.KeyFunctions(VIEW)


def test_getv_returns_the_value(kf: keyfuncs.KeyFunctions) -> None:
    """getv reads one key."""
    assert kf.getv("/app/name") == "web"


def test_getv_uses_the_default_for_a_missing_key(kf: keyfuncs.KeyFunctions) -> None:
    """getv's optional second argument is the default."""
    assert kf.getv("/app/missing", "fallback") == "fallback"


def test_getv_without_default_raises_naming_the_key(kf: keyfuncs.KeyFunctions) -> None:
    """A missing key with no default is an error that names the key."""
    with pytest.raises(MissingKeyError, match="/app/missing"):
        kf.getv("/app/missing")


def test_gets_matches_glob_within_one_level(kf: keyfuncs.KeyFunctions) -> None:
    """`*` does not cross `/`, as in Go's path.Match."""
    assert [p.key for p in kf.gets("/upstream/*")] == ["/upstream/a", "/upstream/b"]


def test_getvs_returns_sorted_values(kf: keyfuncs.KeyFunctions) -> None:
    """getvs returns the values of matching keys, sorted."""
    assert kf.getvs("/upstream/*") == ["10.0.0.1:80", "10.0.0.2:80"]


def test_kvpair_has_confd_field_names(kf: keyfuncs.KeyFunctions) -> None:
    """Templates written for confd use `.Key` and `.Value`."""
    pair = kf.get("/app/name")
    assert (pair.Key, pair.Value) == ("/app/name", "web")


def test_ls_lists_immediate_children(kf: keyfuncs.KeyFunctions) -> None:
    """ls returns child names one level down, sorted and unique."""
    assert kf.ls("/app") == ["db", "name"]


def test_lsdir_lists_only_children_with_keys_below(kf: keyfuncs.KeyFunctions) -> None:
    """lsdir returns the children that are directories."""
    assert kf.lsdir("/app") == ["db"]


def test_exists_tells_presence(kf: keyfuncs.KeyFunctions) -> None:
    """exists is true for a present key only."""
    assert kf.exists("/app/name") and not kf.exists("/app/nope")


def test_json_parses_an_object() -> None:
    """json turns a value into a mapping."""
    assert funcs.json('{"a": 1}') == {"a": 1}


def test_json_array_rejects_an_object() -> None:
    """jsonArray insists on an array."""
    with pytest.raises(RenderError, match="array"):
        funcs.json_array('{"a": 1}')


def test_json_names_the_position_of_a_syntax_error() -> None:
    with pytest.raises(
        RenderError, match=r"json: value is not valid JSON \(Expecting .* at position 1\)"
    ):
        funcs.json("{oops}")


@pytest.mark.parametrize("value", [b"\xff\xfe{", 42, None])
def test_json_of_a_value_that_is_not_text_is_a_render_error(value: object) -> None:
    """Not a traceback, nor an AttributeError about the exception itself."""
    with pytest.raises(RenderError, match=r"^json: value is not valid JSON"):
        funcs.json(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "b", "d"), [("/a/b/c", "c", "/a/b"), ("c", "c", "."), ("/", "/", "/")]
)
def test_base_and_dir_follow_go_path(path: str, b: str, d: str) -> None:
    """base and dir behave like Go's path.Base and path.Dir."""
    assert funcs.base(path) == b
    assert funcs.dir(path) == d


def test_split_join_replace() -> None:
    """String helpers keep confd's argument order."""
    assert funcs.split("a:b:c", ":") == ["a", "b", "c"]
    assert funcs.join(["a", "b"], ",") == "a,b"
    assert funcs.replace("a-b-c", "-", "_", -1) == "a_b_c"
    assert funcs.replace("a-b-c", "-", "_", 1) == "a_b-c"


def test_atoi_parses_and_reports_bad_input_without_the_value() -> None:
    """atoi converts; a bad value is an error that does not echo the (possibly secret) value."""
    assert funcs.atoi("42") == 42
    with pytest.raises(RenderError) as e:
        funcs.atoi("s3cret")
    assert "s3cret" not in str(e.value)


def test_base64_round_trip() -> None:
    """base64Encode and base64Decode are inverses."""
    assert funcs.base64_decode(funcs.base64_encode("héllo")) == "héllo"


def test_getenv_with_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """getenv falls back to its default for an unset variable."""
    monkeypatch.delenv("CONFPY_TEST_UNSET", raising=False)
    monkeypatch.setenv("CONFPY_TEST_SET", "yes")
    assert funcs.getenv("CONFPY_TEST_UNSET", "dflt") == "dflt"
    assert funcs.getenv("CONFPY_TEST_SET") == "yes"


def test_lookup_ip_resolves_localhost() -> None:
    """lookupIP returns sorted unique addresses."""
    assert "127.0.0.1" in funcs.lookup_ip("localhost")


def test_lookup_ip_of_unknown_name_is_empty() -> None:
    """An unresolvable name gives an empty list, as in confd."""
    assert funcs.lookup_ip("no-such-host.invalid") == []


def test_file_exists(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """fileExists checks the local filesystem."""
    (tmp_path / "f").write_text("x")
    assert funcs.file_exists(str(tmp_path / "f")) and not funcs.file_exists(str(tmp_path / "g"))


def test_go_integer_arithmetic_truncates_toward_zero() -> None:
    """div and mod follow Go's integer semantics."""
    assert (funcs.div(-7, 2), funcs.mod(-7, 2)) == (-3, -1)


def test_seq_is_inclusive() -> None:
    """seq 1 3 is 1, 2, 3."""
    assert funcs.seq(1, 3) == [1, 2, 3]
