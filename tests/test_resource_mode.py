"""A resource's `mode` as confd reads it: Go's strconv.ParseUint(mode, 0, 32), measured
against the real confd on a few hundred spellings, with confpy's two deliberate differences
(`"644"` is octal; modes a config file must not have are refused)."""

from __future__ import annotations

import os
import random
import stat
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from confpy.config.resource import load_resource
from confpy.config.values import go_parse_uint, parse_mode
from confpy.errors import ConfigError
from tests.confd_corpus.runner import CONFD, confd_available

ALPHABET = "0123456789abcdefxXoObB_+- "


def spellings(seed: int, count: int) -> list[str]:
    """Mode strings a person or a fuzzer might write: digits, prefixes, underscores, junk."""
    rng = random.Random(seed)
    fixed = ["0644", "644", "0o640", "0O640", "0x1a4", "0X1A4", "0b110100100", "0_644", "420",
             "0600", "600", "0755", "0", "00", "0x", "0o", "_644", "644_", "6__44", "0x_1a4",
             "1_0", "0o_7", "4294967295", "4294967296", "0777", "7777", "-1", "+420", " 644",
             "0644 ", "0x800000", "0o8", "09", "0b2", "٦٤٤"]  # fmt: skip
    rest = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 7))) for _ in range(count)]
    return fixed + rest


@pytest.mark.skipif(not confd_available(), reason=f"the confd binary is absent ({CONFD})")
def test_every_mode_spelling_gets_confds_file_mode_or_a_deliberate_difference(
    tmp_path: Path,
) -> None:
    """One confd run over 335 resources, one mode each: where confd writes the file, confpy
    reads the same number (but for "644"-style octal), or refuses a mode a config file
    must not have; where confd refuses the mode, confpy refuses it too."""
    modes = spellings(20261207, 300)
    confdir, out = tmp_path / "confdir", tmp_path / "out"
    (confdir / "conf.d").mkdir(parents=True)
    (confdir / "templates").mkdir()
    out.mkdir()
    (confdir / "templates" / "a.tmpl").write_text("x\n")
    for i, mode in enumerate(modes):
        (confdir / "conf.d" / f"m{i}.toml").write_text(
            f'[template]\nsrc = "a.tmpl"\ndest = "{out}/m{i}"\nmode = "{mode}"\n'
        )
    subprocess.run(
        [str(CONFD), "-onetime", "-backend", "env", "-confdir", str(confdir), "-log-level", "panic"],
        capture_output=True, timeout=60, check=False, env={"PATH": os.environ.get("PATH", "")},
    )  # fmt: skip
    wrong = []
    for i, mode in enumerate(modes):
        written = out / f"m{i}"
        confd_mode = stat.S_IMODE(written.stat().st_mode) if written.exists() else None
        try:
            ours: int | None = load_resource(
                confdir / "conf.d" / f"m{i}.toml", confdir / "templates"
            ).mode
        except ConfigError:
            ours = None
        go, reading = go_parse_uint(mode), parse_mode(mode)
        if confd_mode is None:
            ok = ours is None and go is None
        elif ours is None:  # refused: not a mode a config file may have
            ok = reading is not None and (reading > 0o7777 or reading & 0o7002 != 0)
        else:
            ok = ours == confd_mode or (reading != go and ours == int(mode, 8))
        if not ok:
            wrong.append(f"{mode!r}: confd {confd_mode}, confpy {ours}, go {go}")
    assert not wrong, wrong
    written_count = sum((out / f"m{i}").exists() for i in range(len(modes)))
    assert 40 < written_count < len(modes) - 40, written_count  # both sides exercised


@given(st.text(alphabet=ALPHABET + "٦é", max_size=12))
def test_parse_mode_is_go_parse_uint_but_for_bare_octal_digits(text: str) -> None:
    """Any string: confpy's reading is Go's ParseUint base 0, except 3-4 octal digits
    without a leading 0, which are octal; nothing raises."""
    expected = int(text, 8) if len(text) in (3, 4) and set(text) <= set("01234567") else None
    assert parse_mode(text) == (expected if expected is not None else go_parse_uint(text))


@given(st.integers(min_value=0, max_value=0o777))
def test_every_octal_spelling_of_a_mode_reads_back(mode: int) -> None:
    """`0NNN`, `0oNNN`, `0xNN` and decimal spell the same mode, as in Go."""
    for text in (f"0{mode:o}", f"0o{mode:o}", f"0x{mode:x}", f"0b{mode:b}", str(mode)):
        assert go_parse_uint(text) == mode
