"""`/metrics`: Prometheus text by default; Marathon's JSON (Dropwizard-style) when the client asks
for `application/json`, as the `marathon` client does. Figures are read from the store at
scrape time, plus request counters kept by a middleware."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from conveyor.domain.documents import JsonObject
from conveyor.store import Store


def store_figures(store: Store) -> dict[str, float]:
    with store.transaction() as tx:
        apps = tx.list_apps()
        instances = tx.list_instances()
        deployments = [d for d in tx.list_deployments() if d.is_active]
        delays = tx.list_launch_delays()
    figures: dict[str, float] = {
        "apps": len(apps),
        "instances_wanted": sum(app.instances for app in apps),
        "deployments_active": len(deployments),
        "launch_delays": len(delays),
        "instances_healthy": sum(i.is_healthy and bool(i.health) for i in instances),
    }
    by_state = Counter(i.state.value for i in instances)
    for state, count in by_state.items():
        figures[f"instances_state:{state}"] = count
    return figures


class StoreCollector(Collector):
    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        figures = store_figures(self._store)
        states = GaugeMetricFamily(
            "conveyor_instances", "Instances by Marathon task state", labels=["state"]
        )
        for name, value in sorted(figures.items()):
            if name.startswith("instances_state:"):
                states.add_metric([name.split(":", 1)[1]], value)
            else:
                yield GaugeMetricFamily(f"conveyor_{name}", name.replace("_", " "), value=value)
        yield states


class Metrics:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.registry = CollectorRegistry()
        self.registry.register(StoreCollector(store))
        self.requests = Histogram(
            "conveyor_http_request_seconds",
            "HTTP requests by route family, method and status",
            ["family", "method", "status"],
            registry=self.registry,
        )

    def observe(self, path: str, method: str, status: int, seconds: float) -> None:
        family = "/" + path.strip("/").split("/", 1)[0]
        self.requests.labels(family, method, str(status)).observe(seconds)

    def response(self, request: Request) -> Response:
        if "application/json" in request.headers.get("accept", ""):
            gauges: JsonObject = {
                f"conveyor.{name}": {"value": value}
                for name, value in store_figures(self.store).items()
            }
            return JSONResponse(
                {
                    "version": "4.0.0",
                    "gauges": gauges,
                    "counters": {},
                    "histograms": {},
                    "meters": {},
                    "timers": {},
                }
            )
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
