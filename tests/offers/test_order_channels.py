"""Tracker issue 18 (A): a channel the chain's orders use is one the offer editor accepts."""

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from offers.models import Offer
from offers.selectors import known_channels
from offers.services import offer_update
from tests.segments.contract_folder import copy_tables, write_folder

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_channel_of_the_imported_orders_is_one_an_offer_may_target(tmp_path: Path) -> None:
    tables = copy_tables()
    tables["orders"][0]["channel"] = "curbside"
    call_command("import_data", str(write_folder(tmp_path / "x", tables)))
    offer = Offer.objects.get(offer_id="O2")

    saved = offer_update(offer=offer, fields={"channels": ["curbside", "kiosk"]})

    assert saved.channels == ["curbside", "kiosk"]
    assert "curbside" in known_channels()


def test_a_channel_nobody_uses_is_refused_naming_the_known_ones(tmp_path: Path) -> None:
    tables = copy_tables()
    tables["orders"][0]["channel"] = "curbside"
    call_command("import_data", str(write_folder(tmp_path / "x", tables)))
    offer = Offer.objects.get(offer_id="O2")

    with pytest.raises(ValidationError) as refused:
        offer_update(offer=offer, fields={"channels": ["carrier_pigeon"]})

    assert refused.value.message_dict["channels"] == [
        "unknown channel 'carrier_pigeon' (known: counter, curbside, delivery, drive_thru, "
        "kiosk, mobile_app)"
    ]
    assert Offer.objects.get(offer_id="O2").channels == ["mobile_app", "kiosk"]
