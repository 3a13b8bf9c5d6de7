"""The preview of a draft as a page (what each segment would get and the expected impact,
beside the rules in force) and the simulate box (one customer, store, time and channel)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from deepflame_web.core.access import MARKETERS_WRITE, PEOPLE_WRITE, role_required
from deepflame_web.core.models import Run, RunKind, RunStatus
from offers.models import Offer, RuleSet, Store
from offers.rules.selectors import rule_set_for_definition
from offers.rules.services import rule_version_latest
from recommender.assignment.engine import Outcome
from recommender.assignment.impact import METRICS
from recommender.assignment.preview import simulate
from recommender.assignment.serving import RecommendationInvalid, channels_known
from recommender.assignment.state import EngineUnavailable
from segments.selectors import segmentation_active

METRIC_LABELS = {
    "redemptions": "Redemptions",
    "revenue": "Revenue",
    "margin": "Gross margin",
    "discount_cost": "Discount cost",
}
MONEY = {"revenue", "margin", "discount_cost"}
METHODS = {
    "holdout": (
        "From the randomized holdout",
        "Unbiased: inverse-propensity weighting of the active batch's holdout, who got random "
        "eligible offers; self-normalized, 95% bootstrap interval over holdout customers.",
    ),
    "model": (
        "From the model's scores",
        "The scorer's probabilities of the offers given, scaled so that on the holdout they "
        "add up to the redemptions observed: only as good as the model's calibration (on the "
        "demo benchmark it overestimated by about 40%); read the holdout's first.",
    ),
}
EXCLUDED_SHOWN = 12


def _draft() -> RuleSet:
    rule_set = rule_set_for_definition(definition=segmentation_active())
    if rule_set is None:
        raise Http404("No draft yet: start one on the rules page.")
    return rule_set


def _amount(metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    if metric in MONEY:
        sign = "-" if value < 0 else ""
        return f"{sign}{settings.CURRENCY_SYMBOL}{abs(value):,.0f}"
    return f"{value:,.0f}"


def _cell(metric: str, figure: dict[str, Any], customers: int) -> dict[str, str]:
    """A total over `customers` from a per-customer figure, with its interval."""

    def scaled(value: float | None) -> float | None:
        return None if value is None else value * customers

    low, high = scaled(figure["low"]), scaled(figure["high"])
    return {
        "value": _amount(metric, scaled(figure["value"])),
        "interval": f"{_amount(metric, low)} to {_amount(metric, high)}"
        if low is not None and high is not None
        else "no interval",
    }


def _impact_row(
    label: str,
    key: str,
    customers: int,
    estimates: dict[str, Any],
    method: str,
) -> dict[str, Any]:
    parts = {
        name: (estimates[name]["total"] if key == "total" else estimates[name]["segments"].get(key))
        for name in ("in_force", "draft")
    }
    if any(part is None for part in parts.values()):
        return {
            "label": label,
            "key": key,
            "customers": customers,
            "cells": [],
            "note": "no holdout",
        }
    holdout = {name: part["holdout"] for name, part in parts.items()}
    if method == "holdout":
        too_small = any(h["too_small"] for h in holdout.values())
    else:  # the scores' scale is fitted on every holdout redemption
        too_small = estimates["holdout_redemptions"] < estimates["min_matched_redemptions"]
    cells = [
        {
            "metric": metric,
            **{
                name: _cell(metric, parts[name][method]["per_customer"][metric], customers)
                if not too_small
                else {"value": "—", "interval": ""}
                for name in ("in_force", "draft")
            },
        }
        for metric in METRICS
    ]
    draft = holdout["draft"]
    support = draft["support"]
    note = (
        f"{draft['holdout_customers']:,} customers, {draft['matched_redemptions']} redemptions "
        f"of the draft's offers, effective size {draft['effective_sample_size']:.0f}"
        + (f", {support:.0%} of its offers covered" if support is not None else "")
    )
    return {
        "label": label,
        "key": key,
        "customers": customers,
        "cells": cells,
        "too_small": too_small,
        "note": note,
    }


def impact_tables(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One table per estimate (holdout, model): the total, then each segment."""
    expected = result.get("impact") or {}
    if not expected.get("available"):
        return []
    segments = [
        (s["segment"], str(s["segment_key"]), s["base_customers"]) for s in result["segments"]
    ]
    tables = []
    for method, (title, explain) in METHODS.items():
        rows = [_impact_row("All customers", "total", result["base_customers"], expected, method)]
        rows += [_impact_row(n, k, c, expected, method) for n, k, c in segments]
        tables.append({"method": method, "title": title, "explain": explain, "rows": rows})
    return tables


def _named(entries: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    return [{**e, "name": names.get(e["offer_id"], "")} for e in entries]


@role_required(MARKETERS_WRITE)
@require_GET
def rules_preview_page(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(
        Run.objects.select_related("started_by"), pk=run_id, kind=RunKind.PREVIEW
    )
    rule_set = _draft()
    result = run.result if run.status == RunStatus.SUCCEEDED else {}
    names = result.get("offer_names", {})
    segments = [
        {
            **s,
            "offers": _named(s["offers"], names),
            "published_offers": _named(s["published_offers"], names),
            "samples": [
                {**c, "draft": _named(c["draft"], names), "in_force": _named(c["in_force"], names)}
                for c in s["samples"]
            ],
        }
        for s in result.get("segments", [])
    ]
    context = {
        "run": run,
        "rule_set": rule_set,
        "result": result,
        "segments": segments,
        "tables": impact_tables(result) if result else [],
        "metric_labels": [METRIC_LABELS[m] for m in METRICS],
        "stores": Store.objects.order_by("store_id").values_list("store_id", "name"),
        "channels": sorted(channels_known()),
        "published": rule_version_latest(rule_set=rule_set),
        "currency": settings.CURRENCY_SYMBOL,
    }
    return render(request, "recommender/rules_preview.html", context)


def _local_instant(store_id: str, value: str) -> dt.datetime:
    store = Store.objects.filter(store_id=store_id).first()
    zone = ZoneInfo(store.timezone or "UTC") if store else dt.UTC
    return dt.datetime.fromisoformat(value).replace(tzinfo=zone)


def _outcome_view(outcome: Outcome, names: dict[str, str]) -> dict[str, Any]:
    return {
        "note": outcome.note,
        "context": outcome.context,
        "slots": [{**slot, "chosen": _named(slot["chosen"], names)} for slot in outcome.slots],
        "excluded": [
            (offer_id, names.get(offer_id, ""), reason)
            for offer_id, reason in sorted(outcome.excluded.items())[:EXCLUDED_SHOWN]
        ],
        "excluded_count": len(outcome.excluded),
    }


def _who(outcome: Outcome, rule_set: RuleSet) -> str:
    situation = outcome.situation
    if not situation.known_customer:
        return (
            "A new customer (not in the customer list): the rule for customers without a segment."
        )
    if situation.segment_key is None:
        return f"Customer {situation.customer_id}, without a segment yet."
    segment = rule_set.definition.segments.filter(key=situation.segment_key).first()
    name = segment.name if segment else f"segment {situation.segment_key}"
    return f"Customer {situation.customer_id}, in {name} (#{situation.segment_key})."


def _simulate_problems(request: HttpRequest) -> dict[str, str]:
    problems = {}
    if not request.POST.get("store_id"):
        problems["store_id"] = "Choose a store."
    when = request.POST.get("local_time", "")
    try:
        dt.datetime.fromisoformat(when)
    except ValueError:
        problems["local_time"] = f'"{when}" is not a date and time (YYYY-MM-DDTHH:MM).'
    channel = request.POST.get("channel", "")
    if channel and channel not in channels_known():
        problems["channel"] = f'Unknown channel "{channel}".'
    return problems


@role_required(PEOPLE_WRITE)
@require_POST
def rules_simulate(request: HttpRequest) -> HttpResponse:
    """The draft and the rules in force for one customer, store, local time and channel,
    side by side with the receipt's reasons (nothing is written)."""
    rule_set = _draft()
    problems = _simulate_problems(request)
    context: dict[str, Any] = {"problems": problems}
    if not problems:
        store_id = request.POST["store_id"]
        try:
            outcomes = simulate(
                rule_set=rule_set,
                customer_id=request.POST.get("customer_id", "").strip(),
                store_id=store_id,
                at=_local_instant(store_id, request.POST["local_time"]),
                channel=request.POST.get("channel", ""),
            )
        except RecommendationInvalid as exc:
            context["problems"] = {k: " ".join(v) for k, v in exc.problems.items()}
        except EngineUnavailable as exc:
            context["problems"] = {"engine": str(exc)}
        else:
            names = dict(Offer.objects.values_list("offer_id", "name"))
            context["who"] = _who(outcomes["draft"], rule_set)
            context["sides"] = [
                ("Rules in force", "in-force", _outcome_view(outcomes["in_force"], names)),
                (
                    f"Draft (revision {rule_set.revision})",
                    "draft",
                    _outcome_view(outcomes["draft"], names),
                ),
            ]
    return render(request, "recommender/partials/simulate.html", context)
