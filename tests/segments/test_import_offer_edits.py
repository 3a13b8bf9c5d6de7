"""Tracker issue 18 (B): an offer edited in the product and the chain's next extract.

Given an import and a marketer's edit of an offer's description, the next extract (which
still carries the chain's description) is no longer rejected whole: the policy chosen for
the import decides, and the differences are listed either way."""

from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from deepflame_web.core.models import Run, RunStatus
from offers.models import AuditEntry, Offer
from offers.services import offer_update
from tests.factories import UserFactory
from tests.segments.contract_folder import TABLES, copy_tables, write_folder
from tests.segments.test_import import snapshot

pytestmark = pytest.mark.django_db(transaction=True)
EDITED = "Free fries with any Whopper, all day long"
CHAIN_S = TABLES["offers"][1]["description"]


@pytest.fixture
def edited(tmp_path: Path) -> Path:
    """The first extract imported, then O2's description edited in the browser; returns the
    chain's next extract (the same rows, one new order)."""
    call_command("import_data", str(write_folder(tmp_path / "first")))
    marketer: Any = UserFactory(username="alice", role="Marketer")
    offer_update(
        offer=Offer.objects.get(offer_id="O2"), fields={"description": EDITED}, user=marketer
    )
    tables = copy_tables()
    tables["orders"].append({**tables["orders"][2], "order_id": "A4"})
    tables["order_lines"].append({**tables["order_lines"][3], "order_id": "A4"})
    return write_folder(tmp_path / "next", tables)


def test_by_default_the_product_s_edit_wins_and_is_listed(edited: Path) -> None:
    call_command("import_data", str(edited))

    offer = Offer.objects.get(offer_id="O2")
    assert offer.description == EDITED
    assert offer.revision == 2
    result = Run.objects.latest("pk").result
    assert result["offers_policy"] == "keep-edits"
    assert result["offer_differences"] == [
        f"offers.csv, row 3: offer 'O2': kept the product's edit by alice "
        f"(description: product {EDITED!r}, extract {CHAIN_S!r})"
    ]
    assert result["rows_added"]["orders"] == 1


def test_take_extract_overwrites_the_product_s_edit(edited: Path) -> None:
    call_command("import_data", str(edited), offers="take-extract")

    offer = Offer.objects.get(offer_id="O2")
    assert offer.description == CHAIN_S
    assert offer.revision == 3 and offer.updated_by is None
    result = Run.objects.latest("pk").result
    assert result["rows_updated"]["offers"] == 1
    assert result["offer_differences"] == [
        f"offers.csv, row 3: offer 'O2': the extract overwrites the product's "
        f"(description: product {EDITED!r}, extract {CHAIN_S!r})"
    ]
    entry = AuditEntry.objects.filter(object_id="O2").first()
    assert entry is not None and entry.action == "offer_import"
    before, after = entry.before or {}, entry.after or {}
    assert (before["description"], after["description"]) == (EDITED, CHAIN_S)
    # The extract's content is the product's again: importing it once more changes nothing.
    call_command("import_data", str(edited))
    assert Run.objects.latest("pk").result["offer_differences"] == []


def test_a_dry_run_lists_the_differences_and_writes_nothing(edited: Path) -> None:
    before = snapshot()

    call_command("import_data", str(edited), offers="take-extract", dry_run=True)

    assert snapshot() == before
    assert Offer.objects.get(offer_id="O2").description == EDITED
    result = Run.objects.latest("pk").result
    assert result["dry_run"] is True
    assert result["rows_added"]["orders"] == 1
    assert len(result["offer_differences"]) == 1
    assert "the extract overwrites" in result["offer_differences"][0]


def test_a_change_to_a_field_nobody_edited_in_the_product_is_still_an_error(
    edited: Path, tmp_path: Path
) -> None:
    tables = copy_tables()
    tables["offers"][1]["discount_value"] = "3.49"
    before = snapshot()

    with pytest.raises(CommandError) as rejected:
        call_command("import_data", str(write_folder(tmp_path / "changed", tables)))

    assert (
        "offers.csv, row 3, column discount_value: offer_id 'O2' exists already with different "
        "content (discount_value), not edited in the product" in str(rejected.value)
    )
    assert snapshot() == before
    assert Run.objects.latest("pk").status == RunStatus.FAILED


def test_other_tables_keep_same_key_other_content_is_an_error(edited: Path, tmp_path: Path) -> None:
    tables = copy_tables()
    tables["items"][0]["name"] = "Whopper Jr"

    with pytest.raises(CommandError) as rejected:
        call_command(
            "import_data", str(write_folder(tmp_path / "changed", tables)), offers="take-extract"
        )

    assert "items.csv, row 2, column name: item_id 'WHOP' exists already with different" in str(
        rejected.value
    )
