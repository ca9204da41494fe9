"""The file backend against hostile YAML: every file is one line and a bounded cost.

A YAML file of `-backend file` is written by whoever may edit it; whatever it holds,
confpy stops with one line naming the file, within the limits of `confpy.limits`, and
never with a traceback (confd says "anchor 'x' value contains itself" or "document
contains excessive aliasing" for the same files).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from confpy.errors import ConfigError
from confpy.golib.yaml import read_yaml
from confpy.limits import MAX_DATA_BYTES
from confpy.store.file import FileStore
from tests.conftest import Confpy


def test_a_map_that_merges_itself_is_one_error_naming_the_file() -> None:
    """`a: &x {<<: *x}` is refused with the file's name, not a RecursionError."""
    with pytest.raises(ConfigError) as caught:
        read_yaml("a: &x\n  <<: *x\n  b: 1\n", "self.yaml")
    assert "self.yaml" in str(caught.value)


def merge_bomb(aliases: int) -> str:
    """Two levels of `<<` merging one map `aliases` times: a few KB naming millions of pairs."""
    refs = ", ".join(["*l0"] * aliases)
    refs1 = ", ".join(["*l1"] * aliases)
    return f"l0: &l0 {{k0: 1, k1: 2}}\nl1: &l1\n  <<: [{refs}]\nl2:\n  <<: [{refs1}]\n"


def test_a_merge_key_bomb_is_refused_before_it_is_expanded() -> None:
    """3,000 merges of 3,000 merges (30 KB) cost confpy 2.7 GB and 34 s before it gave up
    while walking; the alias that crosses the limit is refused while composing."""
    with pytest.raises(ConfigError, match=r"^bomb\.yaml:5: with alias \*l1 expanded"):
        read_yaml(merge_bomb(3000), "bomb.yaml")


def test_a_file_larger_than_the_data_limit_is_refused_without_being_read_whole(
    tmp_path: Path,
) -> None:
    """A file past MAX_DATA_BYTES (as --data) is one ConfigError naming it."""
    big = tmp_path / "big.yaml"
    big.write_bytes(b"k: " + b"x" * (MAX_DATA_BYTES + 10) + b"\n")
    with pytest.raises(ConfigError, match=r"big\.yaml: larger than"):
        FileStore([big])


def test_confd_command_with_a_self_merging_file_exits_1_with_one_line(
    tmp_path: Path, confpy_offline: Confpy
) -> None:
    """`confpy confd -backend file` on a self-merging map: exit 1, one line, no traceback."""
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "a.tmpl").write_text('{{ getv "/a/b" }}\n')
    (tmp_path / "conf.d" / "a.toml").write_text(
        f'[template]\nsrc = "a.tmpl"\ndest = "{tmp_path}/out"\nkeys = ["/a"]\n'
    )
    data = tmp_path / "self.yaml"
    data.write_text("a: &x\n  <<: *x\n  b: 1\n")
    result = confpy_offline.run(
        "confd", "-onetime", "-backend", "file", "-file", str(data), "-confdir", str(tmp_path),
        "-log-level", "error",
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("confpy: error:")
    assert not (tmp_path / "out").exists()
