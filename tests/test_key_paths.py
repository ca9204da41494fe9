"""Key paths: how confpy spells a key or a prefix (confpy.config.keys), one rule each."""

from hypothesis import given
from hypothesis import strategies as st

from confpy.config.keys import clean_key, join_key, normalize_prefix, resolve_key


def test_clean_key_roots_a_key_and_drops_empty_segments() -> None:
    """`a//b/` is read as `/a/b`, as the Jinja key functions look it up."""
    assert clean_key("a//b/") == "/a/b"


def test_clean_key_of_nothing_is_the_root() -> None:
    """An empty key or a run of slashes is `/`."""
    assert clean_key("") == "/"
    assert clean_key("///") == "/"


def test_join_key_joins_like_paths() -> None:
    """`/app` + `host` is `/app/host`, whatever slashes either side carries."""
    assert join_key("/app/", "/host/") == "/app/host"
    assert join_key("", "host") == "/host"


def test_normalize_prefix_accepts_any_slashes_around_it() -> None:
    """`/app/`, `app` and ` /app ` all mean the prefix `/app`."""
    assert {normalize_prefix(p) for p in ("/app/", "app", " /app ")} == {"/app"}


def test_normalize_prefix_of_the_root_is_no_prefix() -> None:
    """`` and `/` mean no prefix at all: the empty string, so prefix + key stays rooted."""
    assert normalize_prefix("/") == ""
    assert normalize_prefix("  ") == ""


def test_resolve_key_puts_a_relative_name_below_the_prefix() -> None:
    """`ssl_certificate` under `/logstash/` is `/logstash/ssl_certificate`."""
    assert resolve_key("/logstash/", "ssl_certificate") == "/logstash/ssl_certificate"


def test_resolve_key_keeps_an_absolute_name() -> None:
    """A name starting with `/` is a key of its own, wherever the prefix is."""
    assert resolve_key("/logstash", "/pki/cert") == "/pki/cert"


_path = st.text(alphabet="/ab", max_size=10)


@given(_path)
def test_clean_key_is_idempotent(key: str) -> None:
    """A clean key cleans to itself."""
    assert clean_key(clean_key(key)) == clean_key(key)


@given(_path, _path)
def test_join_key_is_clean_key_of_the_concatenation(prefix: str, key: str) -> None:
    """Joining never depends on where the slashes were."""
    assert join_key(prefix, key) == clean_key(prefix + "/" + key)
