"""The service's Prometheus metrics: what the store says of runs, and the HTTP requests.

Runs execute in processes of their own, possibly under another server on the same store,
so their figures are read from the store when Prometheus scrapes (a custom collector), not
counted in this process: every server on one store reports the same runs. HTTP requests are
this process's own, counted as they are answered. Each app has its own registry, so two
apps in one process (tests) never share or collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from runbook.store.db import session_scope
from runbook.store.service_figures import cell_durations, gate_waits, run_durations, runs_by_state

#: Seconds: from a quick check to a long maintenance.
RUN_BUCKETS: Final = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0)
CELL_BUCKETS: Final = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0)
GATE_BUCKETS: Final = (5.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0)
HTTP_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


def _histogram(
    name: str, documentation: str, values: Sequence[float], buckets: Sequence[float]
) -> HistogramMetricFamily:
    counts = [(str(bound), float(sum(1 for v in values if v <= bound))) for bound in buckets]
    counts.append(("+Inf", float(len(values))))
    return HistogramMetricFamily(name, documentation, buckets=counts, sum_value=sum(values))


class StoreCollector(Collector):
    """Runs by state, run and cell durations, gate waits, and the queue, read at scrape."""

    def __init__(self, queue_depth: Callable[[], int]) -> None:
        self.engine: Engine | None = None
        self._queue_depth = queue_depth

    def collect(self) -> Iterable[Metric]:
        """The metrics as the store has them now (none before the store is open)."""
        if self.engine is None:
            return
        with session_scope(self.engine) as session:
            states = runs_by_state(session)
            runs, cells = run_durations(session), cell_durations(session)
            waits, waiting = gate_waits(session)
        by_state = GaugeMetricFamily("runbook_runs", "Runs by state.", labels=["state"])
        for state, count in sorted(states.items()):
            by_state.add_metric([state], count)
        yield by_state
        yield _histogram(
            "runbook_run_duration_seconds", "Durations of ended runs.", runs, RUN_BUCKETS
        )
        yield _histogram(
            "runbook_cell_duration_seconds", "Durations of ended cells.", cells, CELL_BUCKETS
        )
        yield _histogram(
            "runbook_gate_wait_seconds",
            "How long decided confirm and manual gates waited for their decision.",
            waits,
            GATE_BUCKETS,
        )
        yield GaugeMetricFamily(
            "runbook_gates_waiting", "Gates waiting for a decision now.", value=waiting
        )
        yield GaugeMetricFamily(
            "runbook_queue_depth",
            "Workflow and playbook runs this server has started and not finished.",
            value=self._queue_depth(),
        )


class ServiceMetrics:
    """One app's registry: the store's figures and its HTTP requests."""

    def __init__(self, queue_depth: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self._store = StoreCollector(queue_depth)
        self.registry.register(self._store)
        self.requests = Counter(
            "runbook_http_requests",
            "HTTP requests answered, by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.durations = Histogram(
            "runbook_http_request_duration_seconds",
            "How long HTTP requests took to answer, by route.",
            ["route"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )

    def bind(self, engine: Engine) -> None:
        """Read the store's figures from ``engine`` (once the app opened its store)."""
        self._store.engine = engine

    def answered(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request (``route`` is the route's template, never the path:
        the label's values stay few)."""
        self.requests.labels(method, route, str(status)).inc()
        self.durations.labels(route).observe(seconds)

    def exposition(self) -> bytes:
        """The metrics in Prometheus's text format."""
        return generate_latest(self.registry)


def metric_names(text: str) -> Iterator[str]:
    """The metric names a text exposition declares (``# TYPE name kind`` lines)."""
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            yield line.split()[2]
