"""Prometheus metrics: tokens issued, verifications by outcome, request latency."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    """One registry per app, so tests and several apps in a process don't collide."""

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
