"""Membership files are sorted by period and customer whatever order the rows come in, so a
trajectory reads one small row group per period."""

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from deepflame_web.core.lake import LakeStage, lake_root
from segments.segmentation.writer import memberships_stage


@pytest.mark.parametrize("shuffled", [False, True])
def test_staged_memberships_are_in_period_and_customer_order(shuffled: bool) -> None:
    customers = np.asarray([f"C{n:04d}" for n in range(300)] * 2, dtype=object)
    periods = np.asarray(["2025-01"] * 300 + ["2025-02"] * 300, dtype=object)
    order = np.random.default_rng(3).permutation(600) if shuffled else np.arange(600)
    stage = LakeStage(run_id=9)

    rows = memberships_stage(
        stage=stage,
        customer_ids=customers[order],
        periods=periods[order],
        segment_keys=np.arange(600)[order] % 4,
        distances=np.linspace(0, 1, 600)[order],
        features=np.arange(1200, dtype=np.float64).reshape(600, 2)[order],
    )

    assert rows == 600 and [f.month for f in stage.files] == ["2025-01", "2025-02"]
    for staged in stage.files:
        table = pq.read_table(Path(lake_root()) / staged.path)
        ids = table.column("customer_id").to_pylist()
        assert ids == sorted(ids) and len(ids) == 300
        first = table.slice(0, 1).to_pylist()[0]
        expected_row = 0 if staged.month == "2025-01" else 300
        assert first["segment_key"] == expected_row % 4
        assert first["features"] == [2.0 * expected_row, 2.0 * expected_row + 1]
