"""One image check for the offer page, the API's save and the import: the stored file's suffix
is that of the format found in the content, whatever the file was called."""

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from offers import services
from offers.images import image_problem, image_store
from offers.models import AuditEntry, Offer
from tests.segments.contract_folder import write_folder


def jpeg_bytes(size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 80, 20)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_the_suffix_comes_from_the_content_never_from_the_name() -> None:
    stored = image_store(content=jpeg_bytes())

    assert stored.path.startswith("offers/") and stored.path.endswith(".jpg")
    assert image_problem(content=jpeg_bytes(), name="menu.png") == ""
    assert image_problem(content=b"GIF89a", name="a/menu.png") == (
        "menu.png is not an image; upload a PNG or JPEG"
    )


@pytest.mark.django_db
def test_a_save_without_a_user_is_audited_as_the_system() -> None:
    services.offer_create(fields={"offer_id": "SYS1", "name": "System", "description": "x"})

    entry = AuditEntry.objects.get()
    assert (entry.action, entry.object_id, entry.user, entry.username) == (
        "offer_create",
        "SYS1",
        None,
        "",
    )
    assert str(entry) == "system offer_create offer SYS1"


@pytest.mark.django_db(transaction=True)
def test_the_import_stores_a_jpeg_named_png_as_a_jpeg(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "extract")
    (folder / "images" / "o1.png").write_bytes(jpeg_bytes())

    call_command("import_data", str(folder))

    assert Offer.objects.get(offer_id="O1").image.endswith(".jpg")


@pytest.mark.django_db(transaction=True)
def test_the_import_refuses_an_image_the_offer_page_would_refuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("offers.images.IMAGE_MAX_PIXELS", 100)

    with pytest.raises(CommandError) as rejected:
        call_command("import_data", str(write_folder(tmp_path / "extract")))

    assert (
        "offers.csv, row 2, column image: image 'images/o1.png': "
        "the image is 16×16 pixels; the limit is 0 million pixels"
    ) in str(rejected.value)
    assert not Offer.objects.exists()
