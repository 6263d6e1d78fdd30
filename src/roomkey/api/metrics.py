"""Prometheus metrics: tokens issued, verifications by outcome, request latency."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    """One registry per app, so tests and several apps in a process don't collide.

    Record through the methods, not the metric objects: ``labels(...)`` rebuilds and locks its
    label tuple on every call (measured: about a tenth of a ``POST /token``'s time under load),
    so each labelled child is looked up once and kept. Label values come from fixed sets (route
    templates, methods, status codes, dialects, outcome codes), so the caches stay small.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.tokens_issued = Counter(
            "roomkey_tokens_issued_total",
            "Tokens issued",
            ["endpoint", "dialect"],
            registry=self.registry,
        )
        self.verifications = Counter(
            "roomkey_verifications_total",
            "Token verifications by outcome code",
            ["outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "roomkey_request_seconds",
            "Request latency",
            ["route", "method", "status"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self._children: dict[tuple[object, ...], Any] = {}

    def count_issued(self, endpoint: str, dialect: str) -> None:
        """One more token issued through ``endpoint`` in ``dialect``."""
        self._child(self.tokens_issued, endpoint, dialect).inc()

    def count_verification(self, outcome: str) -> None:
        """One more verification that ended with ``outcome`` (``valid`` or an error code)."""
        self._child(self.verifications, outcome).inc()

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One request to ``route`` answered with ``status`` after ``seconds``."""
        self._child(self.latency, route, method, str(status)).observe(seconds)

    def _child(self, metric: Counter | Histogram, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child
