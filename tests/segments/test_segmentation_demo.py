"""Segments of a generated chain recover its hidden personas, see drifters move, survive a refit.

The K-Means fit sees only half of the customers (by a hash of their id); every score here is
computed on the other half, which the fit never saw. Personas are read from the generator's
`.truth` folder, which the import and the segmentation never read.
"""

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from sklearn.metrics import adjusted_rand_score

from deepflame_web.console.demo import demo_chain_generate
from deepflame_web.core.models import Run, RunStatus
from segments.models import Customer, Segment, SegmentDefinition
from segments.segmentation.definition import fit_sample_mask
from segments.selectors import (
    customer_trajectory,
    memberships_frame,
    segment_current_sizes,
    segment_flows,
    segment_profile_over_time,
    segmentation_active,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]
FIT_FRACTION = 0.5
MONTHS = [f"2025-0{m}" for m in range(1, 7)]


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("segdemo") / "chain"
    demo_chain_generate(out_dir=folder, customers=3000, months=6, seed=11, start=date(2025, 1, 1))
    return folder


def truth(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    personas = pq.read_table(folder.with_name("chain.truth") / "personas.parquet").to_pandas()
    params = json.loads((folder.with_name("chain.truth") / "params.json").read_text())
    return personas.rename(columns={"month": "period"}), pd.DataFrame(params["drifts"])


def memberships(definition: SegmentDefinition) -> pd.DataFrame:
    return memberships_frame(definition=definition)


def held_out(frame: pd.DataFrame) -> pd.DataFrame:
    seen = fit_sample_mask(frame["customer_id"].to_numpy(), fraction=FIT_FRACTION)
    return frame[~seen]


def test_segments_recover_personas_and_drifting_customers_move(demo_folder: Path) -> None:
    call_command("import_data", str(demo_folder))
    personas, drifts = truth(demo_folder)

    call_command("run_segmentation", "--k", "5", "--fit-fraction", str(FIT_FRACTION))

    definition = segmentation_active()
    assert definition is not None and definition.k == 5 and definition.periods == MONTHS
    placed = held_out(memberships(definition)).merge(personas, on=["customer_id", "period"])
    steady = placed[~placed["customer_id"].isin(drifts["customer_id"])]
    for period, month in steady.groupby("period"):
        assert adjusted_rand_score(month["persona"], month["segment"]) >= 0.8, period
    assert _drifter_move_rate(placed, drifts) >= 0.8
    assert _steady_move_rate(steady) <= 0.1
    names = list(Segment.objects.filter(definition=definition).values_list("name", flat=True))
    assert len(set(names)) == 5 and "Breakfast drive-thru, low spend" in names
    assert definition.k_curve and {p["k"] for p in definition.k_curve} == set(range(3, 11))
    customer = steady["customer_id"].iloc[0]
    trajectory = customer_trajectory(customer_id=customer)
    assert [t["period"] for t in trajectory] == sorted(
        steady.loc[steady["customer_id"] == customer, "period"]
    )
    assert set(trajectory[0]["features"]) == set(definition.transform["names"])
    both = memberships(definition).query("period in ['2025-03', '2025-04']")
    by_period = both.pivot(index="customer_id", columns="period", values="segment")
    counted = by_period.fillna(-1).astype(int).value_counts().to_dict()
    expected = {(None if a < 0 else a, None if b < 0 else b): n for (a, b), n in counted.items()}
    assert segment_flows(period_from="2025-03", period_to="2025-04") == expected
    key = Segment.objects.filter(definition=definition).first().key  # type: ignore[union-attr]
    assert [p["period"] for p in segment_profile_over_time(segment_key=key)] == MONTHS
    latest = memberships(definition).sort_values("period").groupby("customer_id")["segment"].last()
    sizes = segment_current_sizes(definition)
    assert {k: n for k, n in sizes.items() if k is not None} == latest.value_counts().to_dict()
    assert sizes[None] == Customer.objects.count() - len(latest)


def _drifter_move_rate(placed: pd.DataFrame, drifts: pd.DataFrame) -> float:
    """Among drifters between two active personas seen in the month before and the month of
    their drift: the share whose segment changed."""
    active = drifts[(drifts["from"] != "lapsing") & (drifts["to"] != "lapsing")].copy()
    active["before"] = [f"{p[:5]}{int(p[5:]) - 1:02d}" for p in active["month"]]
    seen = placed.set_index(["customer_id", "period"])["segment"]
    pairs = [
        (seen.get((c, b)), seen.get((c, m)))
        for c, b, m in active[["customer_id", "before", "month"]].itertuples(index=False)
    ]
    both = [(a, b) for a, b in pairs if a is not None and b is not None]
    assert len(both) >= 20, "too few drifters seen on both sides of their drift"
    return float(np.mean([a != b for a, b in both]))


def _steady_move_rate(steady: pd.DataFrame) -> float:
    """The same for customers who never drift, over consecutive active months."""
    active = steady[steady["persona"] != "lapsing"].sort_values(["customer_id", "period"])
    same_customer = active["customer_id"].to_numpy()[1:] == active["customer_id"].to_numpy()[:-1]
    changed = active["segment"].to_numpy()[1:] != active["segment"].to_numpy()[:-1]
    return float(changed[same_customer].mean())


def test_a_refit_on_one_more_month_keeps_segment_ids(demo_folder: Path) -> None:
    call_command("import_data", str(demo_folder))
    personas, drifts = truth(demo_folder)
    call_command("run_segmentation", "--until", "2025-05-31", "--fit-fraction", str(FIT_FRACTION))
    first = SegmentDefinition.objects.get(is_active=True)
    renamed = first.segments.get(position=0)
    renamed.name = "Our renamed segment"
    renamed.save(update_fields=["name"])

    call_command("run_segmentation", "--refit", "--fit-fraction", str(FIT_FRACTION))

    second = SegmentDefinition.objects.get(is_active=True)
    assert first.periods == MONTHS[:5] and second.periods == MONTHS
    assert second.previous == first and second.refit and second.version == first.version + 1
    assert not second.segments.filter(is_new=True).exists()
    assert not second.segments.filter(is_vanished=True).exists()
    assert set(second.segments.values_list("key", flat=True)) == set(
        first.segments.values_list("key", flat=True)
    )
    assert second.segments.get(key=renamed.key).name == "Our renamed segment"
    before = held_out(memberships(first))
    after = memberships(second)
    both = before.merge(after, on=["customer_id", "period"], suffixes=("_before", "_after"))
    steady = both[~both["customer_id"].isin(drifts["customer_id"])]
    assert len(steady) == len(before[~before["customer_id"].isin(drifts["customer_id"])])
    kept = (steady["segment_before"] == steady["segment_after"]).mean()
    assert kept >= 0.95
    run = Run.objects.get(pk=second.run_id)
    assert run.status == RunStatus.SUCCEEDED
    assert run.result["refit_changed"] == second.refit_changed
    # Months 1-5 have the same features in both runs, so every move there is the refit's.
    common = memberships(first).merge(after, on=["customer_id", "period"])
    moved_in_common = int((common["segment_x"] != common["segment_y"]).sum())
    new_month_rows = int((after["period"] == MONTHS[5]).sum())
    assert second.refit_changed is not None
    assert moved_in_common <= second.refit_changed <= moved_in_common + new_month_rows
