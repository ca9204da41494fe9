"""units/logging-stack.yml: the article's swarm logging stack, Logstash's pipeline from etcd.

No container engine needed: the stack file's structure, the command its Logstash runs, and
the pipeline its CONFDIR renders are checked here; the image they build on is run for real
by tests/test_container.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from confpy.cli import build_parser
from confpy.store import EtcdStore
from tests.conftest import ROOT, Confpy

UNITS = ROOT / "units"
STACK = UNITS / "logging-stack.yml"
CONFDIR = UNITS / "logging-stack" / "confpy"


def services() -> dict[str, Any]:
    return yaml.safe_load(STACK.read_text())["services"]


def test_stack_has_the_articles_services_on_the_logging_nodes() -> None:
    """Elasticsearch, Logstash and Kibana share log_net and run where node.labels.logger is true."""
    found = services()
    for name in ("elasticsearch", "logstash", "kibana"):
        assert "log_net" in found[name]["networks"], name
        assert "node.labels.logger == true" in found[name]["deploy"]["placement"]["constraints"], (
            name
        )
    assert "main" in found["kibana"]["networks"]


def test_logstash_runs_under_confpy_exec() -> None:
    """Logstash's entrypoint is a `confpy exec` command line that confpy accepts, Logstash its CMD."""
    logstash = services()["logstash"]
    argv = logstash["entrypoint"] + logstash["command"]
    assert argv[:2] == ["confpy", "exec"]
    args = build_parser().parse_args(argv[1:])
    assert args.command[1:] == logstash["command"]


def test_logstash_image_is_built_from_a_dockerfile_in_the_repository() -> None:
    """The build section names a Dockerfile that exists, relative to the stack's context."""
    build = services()["logstash"]["build"]
    assert (UNITS / build["context"] / build["dockerfile"]).is_file()


def test_logstash_confdir_passes_check(confpy_offline: Confpy) -> None:
    """The CONFDIR the Logstash image carries loads and compiles."""
    result = confpy_offline.run("check", "--confdir", str(CONFDIR))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1 resources OK")


def test_pipeline_renders_the_elasticsearch_host_from_etcd(
    confpy: Confpy, store: EtcdStore, tmp_path: Path
) -> None:
    """The host under /logging/elasticsearch/host goes into the pipeline's output."""
    store.put("/logging/elasticsearch/host", b"es.internal")
    result = confpy.run("render", "--onetime", "--noop", "--confdir", str(CONFDIR))
    assert result.returncode == 0, result.stderr
    assert '+    hosts => ["es.internal"]' in result.stdout
    assert "+    port => 9000" in result.stdout
