"""The one check and store of an offer image, shared by the offer pages, the API and the import.

The format is what Pillow finds in the content, never what a file name claims: the stored
file's suffix comes from it, and the image view serves a stored file by its suffix.
"""

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.base import File
from PIL import Image, UnidentifiedImageError

from offers.errors import OffersError

IMAGE_MAX_BYTES = 2 * 1024 * 1024
IMAGE_MAX_PIXELS = 16_000_000
IMAGE_SUFFIXES = {"PNG": ".png", "JPEG": ".jpg"}
IMAGE_FOLDER = "offers"
NOT_DECODABLE = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    Image.DecompressionBombError,
)


@dataclass(frozen=True)
class StoredImage:
    """Where an image was stored (relative to MEDIA_ROOT) and the SHA-256 of its content."""

    path: str
    sha256: str


def image_problem(*, content: bytes, name: str) -> str:
    """Why these bytes are not a usable offer image, or "" when they are a whole PNG or JPEG.

    The pixel count is checked before decoding, so a small file that unpacks to a huge
    picture cannot exhaust the process's memory.
    """
    if len(content) > IMAGE_MAX_BYTES:
        return _too_large(len(content))
    try:
        with Image.open(io.BytesIO(content)) as opened:
            kind, (width, height) = opened.format, opened.size
            if kind not in IMAGE_SUFFIXES:
                return f"the image is {kind}; upload a PNG or JPEG"
            if width * height > IMAGE_MAX_PIXELS:
                return (
                    f"the image is {width}×{height} pixels; "
                    f"the limit is {IMAGE_MAX_PIXELS // 1_000_000} million pixels"
                )
            opened.verify()
        with Image.open(io.BytesIO(content)) as opened:
            opened.load()
    except NOT_DECODABLE:
        return f"{Path(name or 'the file').name} is not an image; upload a PNG or JPEG"
    return ""


def upload_problem(image: File) -> str:
    """`image_problem` of an upload; its size is checked before the file is read."""
    size = image.size or 0
    if size > IMAGE_MAX_BYTES:
        return _too_large(size)
    return image_problem(content=upload_content(image), name=image.name or "")


def upload_content(image: File) -> bytes:
    """The whole upload, leaving it rewound for whoever reads it next."""
    image.seek(0)
    content = image.read()
    image.seek(0)
    return content


def image_store(*, content: bytes) -> StoredImage:
    """Content-addressed, so storing an image twice, or leaving one behind after a failed save,
    is harmless; the suffix is that of the format found in the content."""
    digest = hashlib.sha256(content).hexdigest()
    name = f"{digest[:16]}{_detected_suffix(content)}"
    folder = Path(settings.MEDIA_ROOT) / IMAGE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / name).is_file():
        partial = folder / f"{name}.part"
        partial.write_bytes(content)
        partial.replace(folder / name)
    return StoredImage(path=f"{IMAGE_FOLDER}/{name}", sha256=digest)


def _detected_suffix(content: bytes) -> str:
    try:
        with Image.open(io.BytesIO(content)) as opened:
            kind = str(opened.format)
    except NOT_DECODABLE as exc:
        raise OffersError("The offer image is not an image; upload a PNG or JPEG.") from exc
    if kind not in IMAGE_SUFFIXES:
        raise OffersError(f"The offer image is {kind}; upload a PNG or JPEG.")
    return IMAGE_SUFFIXES[kind]


def _too_large(size: int) -> str:
    return f"the image is {size / 2**20:.1f} MiB; the limit is {IMAGE_MAX_BYTES // 2**20} MiB"
