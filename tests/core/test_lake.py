"""The lake's one way in for contract rows, and the one lake writer active at a time."""

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.db import IntegrityError, transaction

from deepflame_web.core.lake import Appended, LakeStage, lake_append, lake_read, lake_root
from deepflame_web.core.lake_tables import OFFER_EVENTS, OFFER_REDEMPTIONS, ORDERS, UTC, WEATHER
from deepflame_web.core.models import LakeFile, Run, RunKind, RunStatus

pytestmark = pytest.mark.django_db
ZONES = {"NY1": "America/New_York", "LA1": "America/Los_Angeles"}
LATE_JAN_31_IN_LA = dt.datetime(2025, 2, 1, 5, 0, tzinfo=dt.UTC)  # Feb 1 00:00 in New York


def redemptions(*rows: tuple[str, str, dt.datetime, str | None]) -> pa.Table:
    """(customer, offer, instant, store) rows; the order is left empty."""
    return pa.table(
        {
            "customer_id": [r[0] for r in rows],
            "offer_id": [r[1] for r in rows],
            "order_id": pa.nulls(len(rows), pa.string()),
            "store_id": pa.array([r[3] for r in rows], pa.string()),
            "redeemed_at": pa.array([r[2] for r in rows], UTC),
        }
    )


def stage_for_a_run() -> LakeStage:
    run = Run.objects.create(kind=RunKind.IMPORT, task_name="t", status=RunStatus.SUCCEEDED)
    return LakeStage(run.pk)


def append_and_commit(rows: pa.Table, given_wall_times: pa.Array | None = None) -> Appended:
    stage = stage_for_a_run()
    appended = lake_append(
        table=OFFER_REDEMPTIONS,
        rows=rows,
        stage=stage,
        store_zones=ZONES,
        given_wall_times=given_wall_times,
    )
    LakeFile.objects.bulk_create(stage.files)
    return appended


def lake_rows() -> list[tuple[str, ...]]:
    columns = ["customer_id", "offer_id", "store_id", "month"]
    rows = lake_read(table=OFFER_REDEMPTIONS.name, columns=columns).to_pylist()
    return sorted(tuple(row.values()) for row in rows)


def test_rows_the_lake_holds_are_skipped_and_a_changed_one_is_a_conflict() -> None:
    first = dt.datetime(2025, 3, 2, 12, tzinfo=dt.UTC)
    second = dt.datetime(2025, 3, 3, 12, tzinfo=dt.UTC)
    append_and_commit(redemptions(("C1", "O1", first, "NY1"), ("C2", "O1", first, "NY1")))

    appended = append_and_commit(
        redemptions(
            ("C1", "O1", first, "NY1"),  # the same redemption again
            ("C2", "O1", first, "LA1"),  # the same redemption, said to be at another store
            ("C3", "O1", second, "NY1"),  # new
            ("C3", "O1", second, "NY1"),  # new, repeated here: staged once
        )
    )

    assert appended.known.tolist() == [True, True, False, False]
    assert appended.conflicts.tolist() == [False, True, False, False]
    assert appended.staged == 1
    assert appended.keys[2] == appended.keys[3]
    assert lake_rows() == [
        ("C1", "O1", "NY1", "2025-03"),
        ("C2", "O1", "NY1", "2025-03"),
        ("C3", "O1", "NY1", "2025-03"),
    ]


def test_staged_files_are_named_by_table_month_and_run_and_invisible_until_committed() -> None:
    stage = stage_for_a_run()
    rows = redemptions(
        ("C1", "O1", LATE_JAN_31_IN_LA, "LA1"), ("C2", "O1", LATE_JAN_31_IN_LA, None)
    )

    appended = lake_append(table=OFFER_REDEMPTIONS, rows=rows, stage=stage, store_zones=ZONES)

    assert appended.staged == 2
    assert sorted(f.path for f in stage.files) == [
        f"offer_redemptions/month=2025-01/run-{stage.run_id}-0.parquet",
        f"offer_redemptions/month=2025-02/run-{stage.run_id}-0.parquet",
    ]
    assert all((lake_root() / f.path).exists() for f in stage.files)
    assert lake_read(table=OFFER_REDEMPTIONS.name, columns=["customer_id"]).num_rows == 0
    schema = pq.read_schema(lake_root() / stage.files[0].path)
    assert schema.names == [*OFFER_REDEMPTIONS.columns, "month", "row_hash", "row_key"]
    LakeFile.objects.bulk_create(stage.files)
    assert lake_read(table=OFFER_REDEMPTIONS.name, columns=["customer_id"]).num_rows == 2


def test_the_month_is_the_stores_local_one_unless_the_source_gave_the_wall_time() -> None:
    rows = redemptions(
        ("C1", "O1", LATE_JAN_31_IN_LA, "LA1"),  # January in Los Angeles
        ("C2", "O1", LATE_JAN_31_IN_LA, "NY1"),  # February in New York
        ("C3", "O1", LATE_JAN_31_IN_LA, None),  # February in UTC, without a store
    )
    given = pa.array([None, None, dt.datetime(2025, 1, 31, 23, 0)], pa.timestamp("us"))

    append_and_commit(rows, given_wall_times=given)

    assert [r[3] for r in lake_rows()] == ["2025-01", "2025-02", "2025-01"]


def test_a_known_key_is_found_in_the_neighbouring_month_it_was_filed_under() -> None:
    append_and_commit(redemptions(("C1", "O1", LATE_JAN_31_IN_LA, "LA1")))

    again = append_and_commit(redemptions(("C1", "O1", LATE_JAN_31_IN_LA, "NY1")))

    assert again.conflicts.tolist() == [True] and again.staged == 0
    assert lake_rows() == [("C1", "O1", "LA1", "2025-01")]


def test_a_change_in_a_rows_children_is_a_change_of_the_row() -> None:
    orders = pa.table(
        {
            "order_id": ["A1"],
            "customer_id": ["C1"],
            "store_id": ["NY1"],
            "ordered_at": pa.array([dt.datetime(2025, 3, 2, 12, tzinfo=dt.UTC)], UTC),
            "ordered_at_local": pa.array([dt.datetime(2025, 3, 2, 7)], pa.timestamp("us")),
            "channel": ["app"],
            "total": [5.0],
            "gross_margin": [1.0],
        }
    )
    stage = stage_for_a_run()
    lake_append(table=ORDERS, rows=orders, stage=stage, children_hash=np.array([7], np.uint64))
    LakeFile.objects.bulk_create(stage.files)

    same = lake_append(
        table=ORDERS, rows=orders, stage=stage_for_a_run(), children_hash=np.array([7], np.uint64)
    )
    other_lines = lake_append(
        table=ORDERS, rows=orders, stage=stage_for_a_run(), children_hash=np.array([8], np.uint64)
    )

    assert (same.known.tolist(), same.conflicts.tolist()) == ([True], [False])
    assert (other_lines.known.tolist(), other_lines.conflicts.tolist()) == ([True], [True])


def test_write_false_classifies_and_stages_nothing() -> None:
    stage = stage_for_a_run()
    rows = pa.table(
        {
            "store_id": ["NY1"],
            "date": pa.array([dt.date(2025, 3, 1)], pa.date32()),
            "temp_c": [3.5],
            "precip_mm": [0.0],
            "condition": ["clear"],
        }
    )

    appended = lake_append(table=WEATHER, rows=rows, stage=stage, write=False)

    assert appended.staged == 0 and len(appended.keys) == 1 and stage.files == []


def test_a_table_without_a_key_is_appended_as_given() -> None:
    stage = stage_for_a_run()
    at = dt.datetime(2025, 3, 2, 12, tzinfo=dt.UTC)
    events = pa.table(
        {
            "event_id": ["e1", "e2"],
            "kind": ["click", "click"],
            "customer_id": ["C1", "C1"],
            "offer_id": ["O1", "O1"],
            "at": pa.array([at, at], UTC),
            "store_id": pa.array(["NY1", None], pa.string()),
            "decision_id": pa.array([None, None], pa.int64()),
            "slot": pa.array([None, None], pa.int16()),
            "holdout": pa.array([None, None], pa.bool_()),
        }
    )

    appended = lake_append(table=OFFER_EVENTS, rows=events, stage=stage, store_zones=ZONES)
    LakeFile.objects.bulk_create(stage.files)

    assert appended.staged == 2
    written = lake_read(table=OFFER_EVENTS.name, columns=["event_id", "month"]).to_pylist()
    assert sorted((r["event_id"], r["month"]) for r in written) == [
        ("e1", "2025-03"),
        ("e2", "2025-03"),
    ]
    schema = pq.read_schema(lake_root() / stage.files[0].path)
    assert schema.names == [*OFFER_EVENTS.columns, "month"]


def test_the_database_allows_one_active_lake_writer_and_one_run_per_other_kind() -> None:
    Run.objects.create(kind=RunKind.IMPORT, task_name="t", status=RunStatus.RUNNING)
    Run.objects.create(kind=RunKind.FEEDBACK_LANDING, task_name="t", status=RunStatus.SUCCEEDED)
    Run.objects.create(kind=RunKind.SEGMENTATION, task_name="t", status=RunStatus.QUEUED)

    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.create(kind=RunKind.FEEDBACK_LANDING, task_name="t")
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.create(kind=RunKind.SEGMENTATION, task_name="t")
