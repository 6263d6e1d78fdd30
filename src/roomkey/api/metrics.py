"""Prometheus metrics: tokens issued, verifications by outcome, request latency, admission,
webhooks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector


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
        self.joins = Counter(
            "roomkey_admission_joins_total",
            "Joins by outcome (admitted, waiting, or the refusal's code)",
            ["outcome"],
            registry=self.registry,
        )
        self.lobby_wait = Histogram(
            "roomkey_lobby_wait_seconds",
            "Time a knock waited in the lobby before it was admitted or rejected",
            ["decision"],
            registry=self.registry,
            buckets=(1, 5, 15, 30, 60, 120, 300, 600),
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

    def count_join(self, outcome: str) -> None:
        """One more join that ended with ``outcome`` (``admitted``, ``waiting`` or a code)."""
        self._child(self.joins, outcome).inc()

    def observe_lobby_wait(self, decision: str, seconds: float) -> None:
        """A knock decided (``admitted`` or ``rejected``) after waiting ``seconds``."""
        self._child(self.lobby_wait, decision).observe(max(seconds, 0.0))

    def watch_admission(self, admission: Callable[[], Any]) -> None:
        """Export live-state gauges read from ``admission()`` at each scrape."""
        self.registry.register(AdmissionCollector(admission))

    def watch_webhooks(self, webhooks: Callable[[], Any]) -> None:
        """Export this node's webhook delivery counters, read from ``webhooks()`` at scrape."""
        self.registry.register(WebhookCollector(webhooks))

    def watch_audit(self, audit: Callable[[], Any]) -> None:
        """Export the audit group commit's totals (commits and rows), read at scrape."""
        self.registry.register(AuditCollector(audit))

    def watch_feed(self, feed: Callable[[], Any]) -> None:
        """Export the change feed's revision, Redis link and counters, read at scrape."""
        self.registry.register(FeedCollector(feed))

    def watch_ratelimit(self, limiter: Callable[[], Any]) -> None:
        """Export whether rate limits are shared through Redis, read from ``limiter()``."""
        self.registry.register(RateLimitCollector(limiter))

    def _child(self, metric: Counter | Histogram, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child


class AdmissionCollector(Collector):
    """Sessions, sockets and events of the node's admission service, read at scrape time."""

    def __init__(self, admission: Callable[[], Any]) -> None:
        self._admission = admission

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        admission = self._admission()
        if admission is None:
            return
        registry, bus = admission.registry, admission.bus
        live = registry.live_count()
        waiting = registry.waiting_count()
        yield GaugeMetricFamily(
            "roomkey_admission_sessions", "Live sessions admitted", value=live - waiting
        )
        yield GaugeMetricFamily("roomkey_admission_waiting", "Knocks in lobbies", value=waiting)
        yield GaugeMetricFamily(
            "roomkey_admission_sockets", "Open event streams", value=bus.listeners_total()
        )
        yield CounterMetricFamily(
            "roomkey_admission_events_published", "Events published", value=bus.published
        )
        yield CounterMetricFamily(
            "roomkey_admission_events_sent", "Events queued to sockets", value=bus.delivered
        )
        yield CounterMetricFamily(
            "roomkey_admission_sockets_dropped",
            "Event streams closed as slow consumers",
            value=bus.dropped,
        )
        if admission.cluster is not None:
            yield from _cluster_metrics(admission.cluster, registry)


def _cluster_metrics(cluster: Any, registry: Any) -> Iterator[Any]:
    """What a node of several (with Redis) adds: whether Redis carries its messages, what
    waits for it, and the sessions of other nodes it mirrors or adopted."""
    bus = cluster.bus
    yield GaugeMetricFamily(
        "roomkey_admission_redis_up", "1 while Redis carries admission", value=int(bus.up)
    )
    yield GaugeMetricFamily(
        "roomkey_admission_redis_queued", "Messages waiting for Redis", value=bus.queued()
    )
    yield CounterMetricFamily(
        "roomkey_admission_redis_lost", "Messages dropped while Redis was down", value=bus.lost
    )
    yield GaugeMetricFamily(
        "roomkey_admission_mirrored_sessions",
        "Live sessions of other nodes mirrored here",
        value=registry.mirrored_count(),
    )
    yield CounterMetricFamily(
        "roomkey_admission_adopted_sessions",
        "Sessions adopted from nodes whose heartbeat lapsed",
        value=cluster.adopted,
    )


class WebhookCollector(Collector):
    """Attempts, outcomes and dropped events of the node's webhook worker, read at scrape."""

    def __init__(self, webhooks: Callable[[], Any]) -> None:
        self._webhooks = webhooks

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        webhooks = self._webhooks()
        if webhooks is None:
            return
        worker = webhooks.worker
        for name, help_text, value in (
            ("attempts", "Webhook delivery attempts made by this node", worker.attempts),
            ("delivered", "Webhook deliveries answered 2xx", worker.delivered),
            ("failed", "Webhook delivery attempts that failed", worker.failed),
            (
                "events_dropped",
                "Admission events dropped while the database was away",
                webhooks.writer.dropped,
            ),
        ):
            yield CounterMetricFamily(f"roomkey_webhook_{name}", help_text, value=value)
        yield GaugeMetricFamily(
            "roomkey_webhook_in_flight", "Webhook attempts in flight", value=worker.in_flight
        )


class FeedCollector(Collector):
    """The node's change feed: how far it applied, how, and whether Redis carries it."""

    def __init__(self, feed: Callable[[], Any]) -> None:
        self._feed = feed

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        feed = self._feed()
        if feed is None:
            return
        counters = feed.counters
        yield GaugeMetricFamily(
            "roomkey_feed_revision", "State revision this node has applied", value=feed.applied
        )
        yield GaugeMetricFamily(
            "roomkey_feed_redis_connected",
            "1 while changes arrive through Redis; 0 while the node polls the database for them",
            value=1 if feed.redis == "connected" else 0,
        )
        applied = CounterMetricFamily(
            "roomkey_feed_changes_applied",
            "Changes applied: announced (Redis, or this node's own) or read from the database",
            labels=["via"],
        )
        applied.add_metric(["announced"], counters.applied_announced)
        applied.add_metric(["database"], counters.applied_database)
        yield applied
        yield CounterMetricFamily(
            "roomkey_feed_full_reloads",
            "Full reloads (the changes needed were purged)",
            value=counters.full_reloads,
        )
        yield CounterMetricFamily(
            "roomkey_feed_failures", "Failed attempts to apply the feed", value=counters.failures
        )
        yield GaugeMetricFamily(
            "roomkey_feed_lag_seconds",
            "From commit (its node's clock) to applied here, for the last change applied",
            value=counters.last_lag_s,
        )


class AuditCollector(Collector):
    """The audit log's group commit: rows per commit is their ratio."""

    def __init__(self, audit: Callable[[], Any]) -> None:
        self._audit = audit

    def collect(self) -> Iterator[CounterMetricFamily]:
        audit = self._audit()
        if audit is None:
            return
        yield CounterMetricFamily(
            "roomkey_audit_commits", "Audit transactions committed", value=audit.commits
        )
        yield CounterMetricFamily(
            "roomkey_audit_rows", "Audit rows committed (one per token)", value=audit.rows
        )


class RateLimitCollector(Collector):
    """Whether the node's rate limits are counted in Redis now, and how often they were not."""

    def __init__(self, limiter: Callable[[], Any]) -> None:
        self._limiter = limiter

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        limiter = self._limiter()
        if not getattr(limiter, "shared", False):
            return
        yield GaugeMetricFamily(
            "roomkey_ratelimit_shared",
            "1 while rate limits are counted in Redis for every node, 0 while Redis is out",
            value=0 if limiter.degraded else 1,
        )
        yield CounterMetricFamily(
            "roomkey_ratelimit_redis_failures",
            "Rate-limit hits Redis failed to count (each then counted by this node)",
            value=limiter.failures,
        )
        yield CounterMetricFamily(
            "roomkey_ratelimit_local_hits",
            "Rate-limit hits counted by this node alone because Redis was out",
            value=limiter.local_hits,
        )
