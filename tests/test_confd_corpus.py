"""confd setups as published (tests/confd_corpus: 57 resources from 36 repositories) render
with `confpy confd` exactly as with the real confd (also after `confpy convert`), and pass
`confpy check` or are refused by both.

tests/confd_corpus/runner.py says how each case is rendered (one etcd, a fresh prefix per
case, dest moved into a scratch directory, commands, owner and group dropped, identically
for both tools). `bench/confd_corpus.py` prints the table.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from confpy.config.settings import load_settings
from confpy.store import EtcdStore
from confpy.testing.etcd import EtcdServer
from tests.confd_corpus.runner import (
    CONFD,
    CaseResult,
    CorpusRunner,
    confd_available,
    load_cases,
    table,
)

pytestmark = [
    pytest.mark.skipif(
        not confd_available(), reason=f"the confd binary is absent ({CONFD}; set CONFD_BIN)"
    ),
    pytest.mark.etcd,
]


@pytest.fixture(scope="module")
def results(
    etcd_server: EtcdServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[CaseResult]]:
    """Every case rendered by confd, by confpy, and by confpy after `confpy convert`, and
    each published directory checked by `confpy check`."""
    if not etcd_server.running:
        etcd_server.start()
    store = EtcdStore(load_settings({"endpoints": etcd_server.url, "confdir": "/nonexistent"}, {}))
    try:
        runner = CorpusRunner(etcd_server.url, tmp_path_factory.mktemp("corpus"), store.put)
        outcome = runner.run(load_cases(), convert=True)
        assert runner.crashes == []
        yield outcome
    finally:
        store._rpc(
            "wipe corpus", "/kv/deleterange", {"key": "L2NvcnB1cy8=", "range_end": "L2NvcnB1czA="}
        )
        store.close()


def test_the_corpus_holds_40_resources_from_20_repositories() -> None:
    """At least 40 published resources from at least 20 repositories, each with its source."""
    cases = load_cases()
    assert len(cases) >= 40
    assert len({c.name.split("/")[0] for c in cases}) >= 20
    for case in cases:
        source = (case.root / "SOURCE").read_text()
        assert source.startswith("repository: https://github.com/") and "commit: " in source


def test_every_case_renders_confds_bytes_and_mode_or_both_refuse(
    results: list[CaseResult],
) -> None:
    """confpy on confd's command line writes what confd writes (bytes and mode), or nothing
    when confd writes nothing."""
    bad = [r for r in results if not r.agrees]
    assert not bad, table(bad)


def test_most_cases_render_something(results: list[CaseResult]) -> None:
    """The invented data exercises the templates: all but the refused few render output."""
    rendered = [r for r in results if r.confd is not None]
    assert len(rendered) >= len(results) - 3, table(results)


def test_check_passes_each_published_file_or_confd_refuses_it_too(
    results: list[CaseResult],
) -> None:
    """`confpy check` on the published directory passes, unless confd refused that resource
    before rendering it (not TOML, a missing template)."""
    bad = [r for r in results if not r.check_agrees]
    assert not bad, "\n".join(f"{r.case.name}: {r.check_said}{r.confd_said}" for r in bad)


def test_check_prints_a_not_as_confd_line_for_owner_fields(results: list[CaseResult]) -> None:
    """Published files with `owner` (which confd ignores) get a `not as confd:` line."""
    with_owner = [
        r
        for r in results
        if r.check_rc == 0 and "\nowner" in "\n" + Path(r.case.resource).read_text()
    ]
    assert with_owner
    assert all("owner: confd ignores this field" in r.check_said for r in with_owner)


def test_converted_templates_render_confds_bytes(results: list[CaseResult]) -> None:
    """Every template `confpy convert` rewrites as Jinja2 renders confd's bytes and mode
    (the others stay Go templates, which the first test covers)."""
    converted = [r for r in results if r.was_converted]
    assert len(converted) >= 30, table(results)
    bad = [r for r in converted if r.converted != r.confd]
    assert not bad, table(bad)
