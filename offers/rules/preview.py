"""Preview a draft on the whole customer base: which offers each segment's customers would get.

Ranking ignores the model (TxT does not exist yet): within each slot, eligible offers are
ranked by the segment's smoothed historical redemption rate from the lake (see
`offers.rules.ranking`). Every customer of a segment therefore gets the same set, so the
preview counts customers per segment (all CustomerSegment rows of the rule set's
segmentation, plus known customers without a segment) instead of looping over them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from deepflame_web.core.models import Run
from deepflame_web.core.services import RunError, run_advance, run_execute
from offers.models import RuleSet
from offers.rules.document import document_parse
from offers.rules.history import segment_history
from offers.rules.ranking import Pick, rule_fill
from offers.rules.services import rule_version_latest
from offers.rules.slots import catalog_load
from segments.models import Customer, CustomerSegment, Segment
from segments.selectors import segment_current_sizes

SAMPLE_CUSTOMERS = 5


def rule_preview_execute(*, run_id: int) -> Run | None:
    return run_execute(run_id=run_id, work=_preview)


def _offer_sets(document: dict[str, Any], **kwargs: Any) -> dict[int | None, list[Pick]]:
    return {
        rule.segment_key: rule_fill(rule=rule, **kwargs)
        for rule in document_parse(document).segments
    }


def _sample_customers(*, definition_id: int, keys: list[int | None]) -> dict[int | None, list[str]]:
    """A few customer ids per segment, so a marketer can look up who would get what."""
    samples: dict[int | None, list[str]] = {}
    members = CustomerSegment.objects.filter(definition_id=definition_id)
    for key in keys:
        if key is None:
            rows = Customer.objects.exclude(customer_id__in=members.values("customer_id"))
            ids = rows.order_by("customer_id").values_list("customer_id", flat=True)
            samples[key] = list(ids[:SAMPLE_CUSTOMERS])
        else:
            in_segment = members.filter(segment__key=key).order_by("customer_id")
            ids_in = in_segment.values_list("customer_id", flat=True)
            samples[key] = list(ids_in[:SAMPLE_CUSTOMERS])
    return samples


def _preview(run: Run) -> dict[str, Any]:
    parameters = run.parameters
    rule_set = (
        RuleSet.objects.select_related("definition").filter(pk=parameters["rule_set_id"]).first()
    )
    if rule_set is None:
        raise RunError("The rule set of this preview no longer exists.")
    definition = rule_set.definition
    on = dt.date.fromisoformat(parameters["on"])
    run_advance(run=run, stage="reading the catalog and redemption history", progress=5)
    catalog = catalog_load()
    history = segment_history(definition=definition)
    run_advance(run=run, stage="counting customers per segment", progress=40)
    sizes = segment_current_sizes(definition)
    names = {s.key: s.name for s in Segment.objects.filter(definition=definition)}
    samples = _sample_customers(definition_id=definition.pk, keys=list(sizes))
    run_advance(run=run, stage="filling slots of the draft", progress=60)
    draft = _offer_sets(parameters["document"], catalog=catalog, history=history, on=on)
    published_version = rule_version_latest(rule_set=rule_set)
    run_advance(run=run, stage="filling slots of the published version", progress=80)
    published = (
        _offer_sets(published_version.document, catalog=catalog, history=history, on=on)
        if published_version
        else {}
    )
    segments = []
    offer_customers: Counter[str] = Counter()
    changed_total = 0
    for key in sorted(sizes.keys() | draft.keys(), key=lambda k: (k is not None, k or 0)):
        customers = sizes.get(key, 0)
        picks = draft.get(key, [])
        before = published.get(key, [])
        changed = customers if {p.offer_id for p in picks} != {p.offer_id for p in before} else 0
        changed_total += changed
        for pick in picks:
            offer_customers[pick.offer_id] += customers
        segments.append(
            {
                "segment_key": key,
                "segment": "No segment yet" if key is None else names.get(key, f"#{key}"),
                "customers": customers,
                "sample_customers": samples.get(key, []),
                "has_rule": key in draft,
                "offers": [
                    {
                        "offer_id": p.offer_id,
                        "slot": p.slot,
                        "slot_label": p.slot_label,
                        "score": p.score,
                        "fallback": p.fallback,
                        "customers": customers,
                    }
                    for p in picks
                ],
                "published_offers": [p.offer_id for p in before],
                "changed_customers": changed,
            }
        )
    run_advance(run=run, stage="summarizing", progress=95)
    return {
        "rule_set_id": rule_set.pk,
        "revision": parameters["revision"],
        "on": on.isoformat(),
        "published_version": published_version.number if published_version else None,
        "customers": sum(sizes.values()),
        "changed_customers": changed_total,
        "offer_customers": dict(sorted(offer_customers.items())),
        "segments": segments,
        "ranking": "historical redemption rate per segment and offer (no model yet)",
    }
