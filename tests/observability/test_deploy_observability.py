"""deploy/observability/ against the code: every metric its dashboard and alert rules query is one the
processes export (under the name Prometheus sees: counters with _total, histograms' _bucket/_count/_sum),
and every alert the operators were promised is there."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import common.metrics  # noqa: F401  (registers every metric of the processes)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "observability"
# A PromQL identifier that names one of ours; label values are quoted and taken out first.
METRIC = re.compile(r"\blayers_[a-zA-Z0-9_]+\b")
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exported() -> set[str]:
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        if family.name.startswith("layers_")
        for suffix in SUFFIXES[family.type]
    }


def referenced(expr: str) -> set[str]:
    return set(METRIC.findall(QUOTED.sub('""', expr)))


def alert_exprs() -> dict[str, str]:
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    return {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}


def dashboard_exprs() -> list[str]:
    dashboard = json.loads((DEPLOY / "dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_every_metric_the_dashboard_and_alerts_query_is_exported() -> None:
    names = exported()
    exprs = [*alert_exprs().values(), *dashboard_exprs()]
    for expr in exprs:
        used = referenced(expr)
        assert used, f"queries no metric of ours: {expr}"
        assert used <= names, f"not exported: {sorted(used - names)} in {expr}"
    # And the dashboard shows every metric there is.
    shown = set().union(*(referenced(e) for e in dashboard_exprs()))
    families = {name.removesuffix(s) for name in shown for s in ("_total", "_bucket") if name.endswith(s)} | shown
    assert {f.name for f in REGISTRY.collect() if f.name.startswith("layers_")} <= families


def test_the_promised_alerts_exist() -> None:
    alerts = alert_exprs()
    wanted = {
        "LayersGateway5xxRate": "layers_http_requests_total",
        "LayersGatewayP99Latency": "layers_http_request_duration_seconds_bucket",
        "LayersOutboxLag": "layers_outbox_lag_seconds",
        "LayersRenderQueueGrowing": "layers_render_queue_depth",
        "LayersRenderFailureRatio": "layers_jobs_finished_total",
        "LayersWebhookBacklog": "layers_webhook_deliveries_pending",
        "LayersReservationsAboutToExpire": "layers_billing_reservations_expiring",
    }
    for alert, metric in wanted.items():
        assert metric in referenced(alerts[alert]), alert


def test_a_misspelt_metric_would_be_caught() -> None:
    assert referenced('sum(rate(layers_http_request_total{route="layers_not_a_metric"}[5m]))') == {
        "layers_http_request_total"
    }
    assert "layers_http_request_total" not in exported()
