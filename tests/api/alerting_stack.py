"""Debian's Prometheus and Alertmanager as real processes on loopback, for the end-to-end
test of alerts: a rule the test turns on and off, routed to a webhook with a bearer."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
#: Only a hang reaches it: every wait is on a state the process reports.
DEADLINE = 120.0


def free_port() -> int:
    """A loopback port nobody listens on now (bound on port 0, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until ``url`` answers 200 (the process's readiness endpoint)."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url}: the process ended:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling a readiness endpoint, not asserting on time
    raise AssertionError(f"{url}: not ready:\n{log.read_text()[-3000:]}")


@dataclass
class Stack:
    """The running Prometheus (its rule file) and Alertmanager."""

    folder: Path
    prometheus_url: str
    alertmanager_url: str

    def set_rule(self, firing: bool) -> None:
        """Rewrite the alerting rule to fire (``vector(1)``) or not, and reload Prometheus."""
        write_rules(self.folder / "rules.yml", firing)
        reloaded = httpx.post(f"{self.prometheus_url}/-/reload", timeout=30)
        assert reloaded.status_code == 200, reloaded.text


def write_rules(path: Path, firing: bool, runbook_url: str = "") -> None:
    """The rule DiskAlmostFull with labels service=checkout, error_code=E-DISK."""
    annotations = {"summary": "Disk almost full on web1"}
    if runbook_url:
        annotations["runbook_url"] = runbook_url
    elif path.exists():  # keep the annotations of the first write
        annotations = yaml.safe_load(path.read_text())["groups"][0]["rules"][0]["annotations"]
    rule = {
        "alert": "DiskAlmostFull",
        "expr": "vector(1)" if firing else "vector(1) < 0",
        "labels": {"service": "checkout", "error_code": "E-DISK", "instance": "web1"},
        "annotations": annotations,
    }
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "disk", "interval": "1s", "rules": [rule]}]})
    )


@contextmanager
def alerting_stack(folder: Path, webhook: str, bearer: str, runbook_url: str) -> Iterator[Stack]:
    """Alertmanager routing everything to ``webhook`` (``Authorization: Bearer <bearer>``),
    and Prometheus evaluating the rule every second, firing, sending to that Alertmanager."""
    assert PROMETHEUS is not None and ALERTMANAGER is not None
    folder.mkdir(parents=True, exist_ok=True)
    am_port, prom_port = free_port(), free_port()
    (folder / "alertmanager.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"resolve_timeout": "10s"},
                "route": {
                    "receiver": "runbook",
                    "group_by": ["alertname", "service"],
                    "group_wait": "1s",
                    "group_interval": "1s",
                    "repeat_interval": "1h",
                },
                "receivers": [
                    {
                        "name": "runbook",
                        "webhook_configs": [
                            {
                                "url": webhook,
                                "send_resolved": True,
                                "http_config": {
                                    "authorization": {"type": "Bearer", "credentials": bearer}
                                },
                            }
                        ],
                    }
                ],
            }
        )
    )
    write_rules(folder / "rules.yml", True, runbook_url)
    (folder / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"evaluation_interval": "1s", "scrape_interval": "1m"},
                "rule_files": [str(folder / "rules.yml")],
                "alerting": {
                    "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]
                },
            }
        )
    )
    am_log, prom_log = folder / "alertmanager.log", folder / "prometheus.log"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with am_log.open("wb") as out:
            processes.append(
                subprocess.Popen(
                    [
                        ALERTMANAGER,
                        f"--config.file={folder / 'alertmanager.yml'}",
                        f"--storage.path={folder / 'am-data'}",
                        f"--web.listen-address=127.0.0.1:{am_port}",
                        "--cluster.listen-address=",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            )
        am_url = f"http://127.0.0.1:{am_port}"
        wait_ready(f"{am_url}/-/ready", processes[0], am_log)
        with prom_log.open("wb") as out:
            processes.append(
                subprocess.Popen(
                    [
                        PROMETHEUS,
                        f"--config.file={folder / 'prometheus.yml'}",
                        f"--storage.tsdb.path={folder / 'prom-data'}",
                        f"--web.listen-address=127.0.0.1:{prom_port}",
                        "--web.enable-lifecycle",
                        "--rules.alert.resend-delay=1s",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            )
        prom_url = f"http://127.0.0.1:{prom_port}"
        wait_ready(f"{prom_url}/-/ready", processes[1], prom_log)
        yield Stack(folder, prom_url, am_url)
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
