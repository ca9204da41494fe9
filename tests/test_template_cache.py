"""Compiled templates cached across runs, trusted only from our own private files."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import jinja2
import pytest

from confpy.config.resource import load_resource
from confpy.render import cache as template_cache
from confpy.render.cache import SafeBytecodeCache, default_directory
from confpy.render.templates import TemplateSet
from confpy.store.snapshot import Snapshot
from tests.conftest import Confpy
from tests.helpers import ConfTree


@pytest.fixture
def cache_dir(tmp_path: Path) -> Iterator[Path]:
    """This process caches in a fresh directory for the test, and stops caching after it."""
    directory = tmp_path / "cache"
    assert template_cache.configure(environ={"CONFPY_CACHE_DIR": str(directory)}) == directory
    yield directory
    template_cache.configure(enabled=False)


def render(root: Path, source: str) -> bytes:
    """Load (compile or fetch from the cache) and render ROOT/templates/t.j2 with /x = 1."""
    (root / "templates").mkdir(parents=True, exist_ok=True)
    (root / "templates" / "t.j2").write_text(source)
    toml = root / "t.toml"
    toml.write_text('[template]\nsrc = "t.j2"\ndest = "/nonexistent/t"\nkeys = ["/x"]\n')
    resource = load_resource(toml, root / "templates")
    templates, errors = TemplateSet.load(root / "templates", [resource])
    assert not errors
    return templates.render(resource, Snapshot(1, {"/x": b"1"}))


def entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.jbc"))


def refuse_to_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    def compile_(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled although a valid cache entry exists")

    monkeypatch.setattr(jinja2.Environment, "compile", compile_)


def test_root_caches_in_var_cache_whatever_home_says() -> None:
    """Under sudo, HOME may be the invoking user's: root never loads code from there."""
    env = {"HOME": "/home/alice", "XDG_CACHE_HOME": "/home/alice/.cache"}
    assert default_directory(env, 0) == Path("/var/cache/confpy")


def test_a_user_caches_under_xdg_cache_home_or_home() -> None:
    """$XDG_CACHE_HOME/confpy, else ~/.cache/confpy; a relative XDG path is ignored."""
    assert default_directory({"XDG_CACHE_HOME": "/x/c", "HOME": "/h"}, 1000) == Path("/x/c/confpy")
    assert default_directory({"XDG_CACHE_HOME": "rel", "HOME": "/h"}, 1000) == Path(
        "/h/.cache/confpy"
    )
    assert default_directory({}, 1000) is None


def test_no_cache_in_the_environment_turns_it_off(tmp_path: Path) -> None:
    """CONFPY_NO_CACHE=1 means no cache even when a directory is given."""
    env = {"CONFPY_CACHE_DIR": str(tmp_path), "CONFPY_NO_CACHE": "1"}
    assert template_cache.configure(environ=env) is None
    assert template_cache.current() is None


def test_a_second_load_uses_the_cached_code(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once compiled, a template is not compiled again by a later load."""
    assert render(tmp_path, "x={{ getv('/x') }}\n") == b"x=1\n"
    refuse_to_compile(monkeypatch)
    assert render(tmp_path, "x={{ getv('/x') }}\n") == b"x=1\n"


def test_entries_are_private_files_in_a_private_directory(tmp_path: Path, cache_dir: Path) -> None:
    """The directory is 0700 and every entry 0600, whatever the umask."""
    old = os.umask(0)
    try:
        render(tmp_path, "x\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    [entry] = entries(cache_dir)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600


def test_an_edited_template_is_not_served_from_the_cache(tmp_path: Path, cache_dir: Path) -> None:
    """The entry records the source's checksum: new source, new code."""
    render(tmp_path, "old\n")
    assert render(tmp_path, "new\n") == b"new\n"


def test_a_corrupted_entry_is_ignored_and_replaced(tmp_path: Path, cache_dir: Path) -> None:
    """A flipped byte fails the digest: the template is compiled again and the entry rewritten."""
    render(tmp_path, "x={{ getv('/x') }}\n")
    [entry] = entries(cache_dir)
    data = bytearray(entry.read_bytes())
    data[-3] ^= 0xFF
    entry.write_bytes(bytes(data))
    assert render(tmp_path, "x={{ getv('/x') }}\n") == b"x=1\n"
    assert entry.read_bytes() != bytes(data)


def test_an_entry_others_could_have_written_is_not_trusted(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group- or world-accessible entry is ignored, however valid its content."""
    render(tmp_path, "x\n")
    [entry] = entries(cache_dir)
    entry.chmod(0o664)
    refuse_to_compile(monkeypatch)
    with pytest.raises(AssertionError, match="compiled although"):
        render(tmp_path, "x\n")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_an_entry_owned_by_another_user_is_not_trusted(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only files owned by the effective user are loaded."""
    render(tmp_path, "x\n")
    [entry] = entries(cache_dir)
    os.chown(entry, 65534, 65534)
    refuse_to_compile(monkeypatch)
    with pytest.raises(AssertionError, match="compiled although"):
        render(tmp_path, "x\n")


def test_a_directory_others_can_write_disables_the_cache(tmp_path: Path) -> None:
    """Anyone who can write the directory could plant code: it is not used at all."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert SafeBytecodeCache.open(shared) is None


def test_a_symlinked_directory_is_not_followed(tmp_path: Path) -> None:
    """The directory itself must not be a link someone could point elsewhere."""
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert SafeBytecodeCache.open(tmp_path / "link") is None


def test_check_fills_the_cache(tmp_path: Path, confpy_offline: Confpy) -> None:
    """The CLI caches by default: `confpy check` leaves one entry per template."""
    tree = ConfTree(tmp_path)
    tree.simple("app", "x\n", ["/x"])
    cache = tmp_path / "cache"
    env = confpy_offline.env(CONFPY_CACHE_DIR=str(cache))
    result = confpy_offline.run("check", "--confdir", str(tree.confdir), env=env)
    assert result.returncode == 0, result.stderr
    assert len(entries(cache)) == 1


@pytest.mark.etcd
def test_render_with_no_cache_leaves_no_entry(tmp_path: Path, confpy: Confpy) -> None:
    """`render --onetime --no-cache` compiles in memory and writes nothing to the cache."""
    tree = ConfTree(tmp_path)
    tree.simple("app", "x\n", ["/x"])
    cache = tmp_path / "cache"
    env = confpy.env(CONFPY_CACHE_DIR=str(cache))
    render_ = ("render", "--onetime", "--confdir", str(tree.confdir))
    result = confpy.run(*render_, "--no-cache", env=env)
    assert result.returncode == 0, result.stderr
    assert entries(cache) == []
    assert confpy.run(*render_, env=env).returncode == 0
    assert len(entries(cache)) == 1


def test_code_compiled_for_other_settings_is_not_reused(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the sandbox intercepts is decided at compile time: another setting, another entry."""
    render(tmp_path, "{{ 2 * 3 }}\n")
    monkeypatch.setattr(
        "confpy.render.jinja_env.BoundedEnvironment.intercepted_binops", frozenset({"*", "**", "+"})
    )
    render(tmp_path, "{{ 2 * 3 }}\n")
    assert len(entries(cache_dir)) == 2
