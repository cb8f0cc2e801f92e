"""Prometheus metrics, declared once for the whole process (``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "policybot_http_requests_total",
    "HTTP requests by route and status",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "policybot_http_request_seconds", "HTTP request latency by route", ["route"]
)
REPLY_SECONDS = Histogram(
    "policybot_callback_reply_seconds",
    "Time from receiving a WeChat callback to answering it",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 10),
)
REPLIES = Counter("policybot_replies_total", "Replies by handler", ["handler"])
HANDLER_SECONDS = Histogram("policybot_handler_seconds", "Handler run time", ["handler"])
CALLBACKS = Counter(
    "policybot_callbacks_total", "WeChat callbacks by outcome", ["outcome"]
)  # outcome: replied, duplicate, deferred, bad_signature, bad_request
DEFERRED_REPLIES = Counter(
    "policybot_deferred_replies_total",
    "Slow replies sent later through the customer-service API",
    ["result"],
)
PUSH_DELIVERIES = Counter(
    "policybot_push_deliveries_total",
    "Push deliveries by channel and result",
    ["channel", "result"],
)
PUSH_PENDING = Gauge("policybot_push_pending", "Deliveries waiting to be sent")
PUSH_REACH = Counter(
    "policybot_push_reach_total",
    "What happened after sending, by channel: delivered, undelivered (provider reports), opened",
    ["channel", "event"],
)
