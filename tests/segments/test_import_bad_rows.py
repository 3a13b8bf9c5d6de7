"""Tracker issue 18 (A): rows the import used to take silently, and one report for every
problem of an extract."""

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from deepflame_web.core.lake import lake_read
from deepflame_web.core.models import Run, RunStatus
from segments.models import Customer
from tests.segments.contract_folder import copy_tables, write_folder
from tests.segments.test_import import snapshot

pytestmark = pytest.mark.django_db(transaction=True)


def _rejected(folder: Path) -> str:
    with pytest.raises(CommandError) as rejected:
        call_command("import_data", str(folder))
    return str(rejected.value)


def test_a_negative_order_total_is_an_error(tmp_path: Path) -> None:
    tables = copy_tables()
    tables["orders"][1]["total"] = "-5.0"
    before = snapshot()

    text = _rejected(write_folder(tmp_path / "x", tables))

    assert "orders.csv, row 3, column total: must not be negative" in text
    assert snapshot() == before


def test_a_chain_s_own_channel_is_data_and_lands_as_given(tmp_path: Path) -> None:
    tables = copy_tables()
    tables["orders"][0]["channel"] = "curbside"

    call_command("import_data", str(write_folder(tmp_path / "x", tables)))

    channels = lake_read(table="orders", columns=["channel"]).column("channel").to_pylist()
    assert sorted(channels) == ["curbside", "kiosk", "mobile_app"]


def test_an_order_for_a_customer_missing_from_customers_csv_is_named(tmp_path: Path) -> None:
    tables = copy_tables()
    tables["orders"][0]["customer_id"] = "C404"
    before = snapshot()

    text = _rejected(write_folder(tmp_path / "x", tables))

    assert (
        "orders.csv, row 2, column customer_id: refers to customer 'C404', which does not exist "
        "(not in customers.csv nor among the customers imported before)" in text
    )
    assert snapshot() == before
    assert not Customer.objects.filter(customer_id="C404").exists()


def test_an_order_for_an_unlisted_customer_does_not_block_the_real_row_later(
    tmp_path: Path,
) -> None:
    """An extract without customers.csv implies customers with no join date; a later extract
    that lists them with their join date fills it in instead of being refused."""
    tables = copy_tables()
    del tables["customers"]
    call_command("import_data", str(write_folder(tmp_path / "first", tables)))
    assert Customer.objects.get(customer_id="C1").joined_at is None

    call_command("import_data", str(write_folder(tmp_path / "second")))

    customer = Customer.objects.get(customer_id="C1")
    assert str(customer.joined_at) == "2024-05-01"
    assert customer.attributes == {"loyalty_tier": "gold"}


def test_every_problem_of_every_file_is_reported_in_one_pass(tmp_path: Path) -> None:
    tables = copy_tables()
    tables["stores"][1]["timezone"] = "Pacific/Atlantis"
    tables["items"][0]["price"] = "-1"
    tables["offers"][1]["image"] = "images/gone.png"
    tables["orders"][1]["total"] = "-5.0"
    tables["orders"][2]["customer_id"] = "C404"
    tables["order_lines"][0]["quantity"] = "0"
    tables["order_lines"][1]["item_id"] = "SHAKE"
    tables["weather"][0]["precip_mm"] = "-2"
    tables["offer_redemptions"][0]["offer_id"] = "O77"
    for record in tables["offers"]:
        del record["description"]
    before = snapshot()

    text = _rejected(write_folder(tmp_path / "x", tables))

    for expected in (
        "stores.csv, row 3, column timezone: unknown timezone 'Pacific/Atlantis'",
        "items.csv, row 2, column price: must not be negative",
        "offers.csv, column description: required column is missing",
        "orders.csv, row 3, column total: must not be negative",
        "orders.csv, row 4, column customer_id: refers to customer 'C404'",
        "order_lines.csv, row 2, column quantity: must be greater than 0",
        "order_lines.csv, row 3, column item_id: refers to item 'SHAKE', which does not exist",
        "weather.csv, row 2, column precip_mm: must not be negative",
        "offer_redemptions.csv, row 2, column offer_id: refers to offer 'O77'",
    ):
        assert expected in text
    assert snapshot() == before
    assert Run.objects.latest("pk").status == RunStatus.FAILED
