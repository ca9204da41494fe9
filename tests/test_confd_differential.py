"""confpy renders confd's Go templates as the real confd does: a fixed seed set, both on one etcd.

tests/gogen.py generates the templates and key trees; tests/confd_diff.py renders them with
the confd anchor binary and with `confpy render --onetime` (and after `confpy convert`),
one process each for the whole batch. The long run is bench/confd_diff.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from confpy.testing.etcd import EtcdServer
from tests.confd_diff import CONFD, DiffRunner, Outcome, confd_available
from tests.gogen import docs_cases, generate

pytestmark = [
    pytest.mark.skipif(
        not confd_available(), reason=f"the confd binary is absent ({CONFD}; set CONFD_BIN)"
    ),
    pytest.mark.etcd,  # starts an etcd of its own for confd and confpy to read
]

SEED = 20261130
COUNT = 150


@pytest.fixture(scope="module")
def outcomes(etcd_server: EtcdServer) -> Iterator[list[Outcome]]:
    """One batch: confd's documentation examples and COUNT random templates, rendered by
    confd, by confpy directly, and by confpy after `confpy convert`."""
    if not etcd_server.running:
        etcd_server.start()
    with DiffRunner(etcd_server.url) as runner:
        result = runner.run(docs_cases() + generate(SEED, COUNT))
        assert runner.crashes == []
        yield result


def _shown(bad: list[Outcome]) -> str:
    return "\n".join(
        f"{o.case.name}: {o.case.template!r}\n  confd={o.confd!r}\n  confpy={o.direct!r}"
        f"\n  converted={o.converted!r}"
        for o in bad[:5]
    )


def test_every_template_renders_confds_bytes_or_fails_where_confd_fails(
    outcomes: list[Outcome],
) -> None:
    """Direct rendering agrees with confd on every case of the seed set."""
    bad = [o for o in outcomes if not o.direct_agrees]
    assert not bad, _shown(bad)


def test_documented_examples_render_as_confd_renders_them(outcomes: list[Outcome]) -> None:
    """Every confd documentation example renders (confd renders them all) to confd's bytes."""
    docs = [o for o in outcomes if o.case.name.startswith("doc")]
    assert docs and all(o.confd is not None and o.direct == o.confd for o in docs)


def test_converted_templates_render_as_confd_renders_them(outcomes: list[Outcome]) -> None:
    """Every template `confpy convert` turns into Jinja renders confd's bytes, or fails
    where confd fails (the others it keeps as Go templates)."""
    converted = [o for o in outcomes if o.was_converted]
    bad = [o for o in converted if not o.converted_agrees]
    assert len(converted) >= 30
    assert not bad, _shown(bad)
