"""Segmentations written straight through the ORM (no Spark): a small persona refit for page
tests, or a bare definition with given segments for rules and assignment tests.

The personas' profiles, names, transform and distances come from the real pure-Python code, so
the pages see the same shapes a segmentation run writes. Four personas over four months:
customers C001..C048 take persona (n - 1) % 4; C001..C006 drift to the next persona in
2025-04; C041..C044 first order in 2025-02; C045..C048 stop ordering after 2025-03.
"""

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from deepflame_web.core.lake import LakeStage
from deepflame_web.core.models import LakeFile, Run, RunKind, RunStatus
from segments.models import (
    Segment,
    SegmentDefinition,
    SegmentSize,
)
from segments.segmentation.definition import FrozenTransform, assign
from segments.segmentation.profiles import (
    segment_description,
    segment_name,
    segment_profiles,
    unique_names,
)
from segments.segmentation.writer import (
    current_segments_write,
    memberships_stage,
    segment_flows_write,
)
from segments.selectors import customer_trajectory
from tests.factories import customers_insert

PERIODS = ["2025-01", "2025-02", "2025-03", "2025-04"]
DAYPARTS = ["breakfast", "lunch", "afternoon", "dinner", "late_night"]
CHANNELS = ["drive_thru", "mobile_app", "kiosk", "counter", "delivery"]
NAMES = [
    "visits", "avg_spend", "avg_margin", "recency_days", "tenure_days", "items_per_order",
    "weekend_share", "offer_rate",
    *(f"daypart_share:{d}" for d in DAYPARTS), *(f"channel_share:{c}" for c in CHANNELS),
]  # fmt: skip
CUSTOMERS = [f"C{n:03d}" for n in range(1, 49)]
DRIFTERS = CUSTOMERS[:6]
LATE_STARTERS = CUSTOMERS[40:44]
LEAVERS = CUSTOMERS[44:48]
VANISHED_KEY = 5


@dataclass(frozen=True)
class Persona:
    visits: float
    spend: float
    weekend: float
    offers: float
    daypart: str
    channel: str


PERSONAS = [
    # visits, spend, weekend share, offer rate, main daypart, main channel
    Persona(14, 5.2, 0.2, 0.1, "breakfast", "drive_thru"),
    Persona(3, 24.0, 0.8, 0.05, "dinner", "counter"),
    Persona(6, 9.5, 0.3, 0.9, "lunch", "mobile_app"),
    Persona(4, 13.0, 0.5, 0.2, "late_night", "delivery"),
]  # fmt: skip


def persona_of(customer: str, period: str) -> int:
    base = (int(customer[1:]) - 1) % len(PERSONAS)
    if customer in DRIFTERS and period >= "2025-04":
        return (base + 1) % len(PERSONAS)
    return base


def active(customer: str, period: str) -> bool:
    if customer in LATE_STARTERS:
        return period >= "2025-02"
    if customer in LEAVERS:
        return period <= "2025-03"
    return True


def _features(rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    rows, labels = [], []
    for period in PERIODS:
        for customer in CUSTOMERS:
            if not active(customer, period):
                continue
            label = persona_of(customer, period)
            p = PERSONAS[label]
            noise = rng.normal(1.0, 0.08, 4)
            row = {
                "customer_id": customer,
                "period": period,
                "visits": round(p.visits * noise[0]),
                "avg_spend": p.spend * noise[1],
                "avg_margin": p.spend * 0.35 * noise[1],
                "recency_days": max(1.0, 30 / p.visits * noise[2]),
                "tenure_days": 200 + int(customer[1:]) * 3 + PERIODS.index(period) * 30,
                "items_per_order": 1.5 + p.spend / 10 * noise[3],
                "weekend_share": p.weekend,
                "offer_rate": p.offers,
            }
            for name in DAYPARTS:
                row[f"daypart_share:{name}"] = 0.7 if name == p.daypart else 0.075
            for name in CHANNELS:
                row[f"channel_share:{name}"] = 0.8 if name == p.channel else 0.05
            rows.append(row)
            labels.append(label)
    return pd.DataFrame(rows), np.asarray(labels)


def segmentation_create(
    *,
    segments: dict[int, tuple[str, dict[str, float]]] | None = None,
    version: int | None = None,
    active: bool = True,
) -> SegmentDefinition:
    """Without `segments`: the personas' customers and their segmentation, a refit (version 2
    unless given) with keys 1-4 live, key 4 new and key 5 vanished, its memberships in the lake,
    flows and sizes. With `segments` ({key: (name, z-scores)}): only the definition (version 1
    unless given) and those segments, for tests that need keys and profiles but no customers."""
    if segments is not None:
        return _definition_create(
            segments, version=1 if version is None else version, active=active
        )
    customers_insert(
        {
            customer: {
                "joined_at": date(2024, 1 + n % 12, 1 + n % 28).isoformat(),
                "attributes": {
                    "loyalty_tier": ["gold", "silver", "bronze"][n % 3],
                    "home_zip": "60601",
                },
            }
            for n, customer in enumerate(CUSTOMERS)
        }
    )
    frame, labels = _features(np.random.default_rng(7))
    transform = FrozenTransform.fit(frame, NAMES)
    scaled = transform.apply(frame)
    centroids = np.stack([scaled[labels == i].mean(axis=0) for i in range(len(PERSONAS))])
    positions, distances = assign(frame, transform, centroids)
    profiles = segment_profiles(features=frame, names=NAMES, labels=positions, k=len(PERSONAS))
    names = unique_names([segment_name(p) for p in profiles])
    run = Run.objects.create(
        kind=RunKind.SEGMENTATION, task_name="t", status=RunStatus.SUCCEEDED, progress=100
    )
    definition = SegmentDefinition.objects.create(
        run=run,
        version=2 if version is None else version,
        is_active=active,
        refit=True,
        k=len(PERSONAS),
        periods=PERIODS,
        transform=transform.as_json(),
        centroids=centroids.tolist(),
        k_curve=[
            {"k": k, "inertia": 4000.0 / k, "silhouette": 0.62 if k == 4 else 0.45 - k / 100}
            for k in range(3, 11)
        ],
        fit_rows=len(frame),
        refit_changed=7,
    )
    live = [
        Segment.objects.create(
            definition=definition,
            key=position + 1,
            position=position,
            name=names[position],
            description=segment_description(profile),
            is_new=position == 3,
            size=profile["size"],
            profile=profile,
        )
        for position, profile in enumerate(profiles)
    ]
    Segment.objects.create(
        definition=definition,
        key=VANISHED_KEY,
        position=None,
        name="Lapsed weekend brunch",
        is_vanished=True,
    )
    stage = LakeStage(run.pk)
    memberships_stage(
        stage=stage,
        customer_ids=frame["customer_id"].to_numpy(),
        periods=frame["period"].to_numpy(),
        segment_keys=np.asarray([segment.key for segment in live])[positions],
        distances=distances,
        features=frame[NAMES].to_numpy(dtype=np.float64),
    )
    LakeFile.objects.bulk_create(stage.files)
    segment_flows_write(
        definition=definition,
        customer_ids=frame["customer_id"].to_numpy(),
        periods=frame["period"].to_numpy(),
        segment_keys=np.asarray([segment.key for segment in live])[positions],
    )
    current_segments_write(
        definition_id=definition.pk,
        customer_ids=frame["customer_id"].to_numpy(),
        periods=frame["period"].to_numpy(),
        segment_ids=np.asarray([segment.pk for segment in live])[positions],
        distances=distances,
    )
    grouped = frame[NAMES].groupby([frame["period"], positions])
    counts = grouped.size()
    SegmentSize.objects.bulk_create(
        SegmentSize(
            definition=definition,
            segment=live[int(position)],
            period=period,
            customers=int(counts.loc[(period, position)]),
            means={k: round(float(v), 4) for k, v in row.items()},
        )
        for (period, position), row in grouped.mean().iterrows()
    )
    return definition


def _definition_create(
    segments: dict[int, tuple[str, dict[str, float]]], *, version: int, active: bool
) -> SegmentDefinition:
    run = Run.objects.create(
        kind=RunKind.SEGMENTATION, status=RunStatus.SUCCEEDED, task_name="test"
    )
    definition = SegmentDefinition.objects.create(
        run=run, version=version, is_active=active, k=len(segments), periods=["2026-01"]
    )
    for position, (key, (name, z)) in enumerate(sorted(segments.items())):
        Segment.objects.create(
            definition=definition,
            key=key,
            position=position,
            name=name,
            profile={"means": {}, "z": z, "top": []},
        )
    return definition


def segment_of(definition: SegmentDefinition, customer: str, period: str) -> Segment:
    step = next(
        t
        for t in customer_trajectory(customer_id=customer, definition=definition)
        if t["period"] == period
    )
    return definition.segments.get(key=step["segment_key"])
