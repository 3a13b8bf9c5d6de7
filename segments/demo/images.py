"""Offer artwork: a small PNG per offer, drawn so that categories look different.

Each category has its own palette and pictogram (a stacked burger, fries, a steaming mug...), so
an image encoder separates categories; a per-offer jitter of position, size and accent color,
plus the price tag, keeps offers of one category from being identical.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from segments.demo.catalog import Offer

SIZE = 128

PALETTES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]] = {
    "burgers": ((214, 64, 28), (245, 180, 80), (110, 60, 30)),
    "chicken": ((240, 190, 40), (200, 120, 30), (255, 240, 200)),
    "breakfast": ((255, 214, 120), (255, 150, 40), (255, 255, 230)),
    "sides": ((200, 20, 30), (255, 220, 60), (255, 255, 255)),
    "drinks": ((30, 90, 200), (220, 40, 40), (240, 240, 255)),
    "hot_drinks": ((90, 55, 35), (240, 230, 215), (180, 130, 90)),
    "frozen_drinks": ((120, 210, 230), (240, 120, 180), (255, 255, 255)),
    "desserts": ((250, 190, 210), (140, 80, 50), (255, 250, 240)),
    "kids_meals": ((60, 170, 80), (250, 220, 50), (60, 120, 230)),
}
"""Background, main shape and accent color per category."""


Color = tuple[int, int, int]


def _burger(draw: ImageDraw.ImageDraw, cx: int, cy: int, r: int, main: Color, acc: Color) -> None:
    draw.pieslice((cx - r, cy - r, cx + r, cy + r // 2), 180, 360, fill=main)
    draw.rectangle((cx - r, cy - r // 4, cx + r, cy + r // 6), fill=acc)
    draw.rectangle((cx - r, cy + r // 6, cx + r, cy + r // 3), fill=(60, 170, 60))
    draw.rounded_rectangle((cx - r, cy + r // 3, cx + r, cy + r // 1.5), 6, fill=main)


def _chicken(draw: ImageDraw.ImageDraw, cx: int, cy: int, r: int, main: Color, acc: Color) -> None:
    draw.ellipse((cx - r, cy - r, cx + r // 3, cy + r // 2), fill=main)
    draw.polygon([(cx, cy), (cx + r, cy + r), (cx + r // 2, cy + r)], fill=acc)
    draw.ellipse((cx + r - 10, cy + r - 10, cx + r + 6, cy + r + 6), fill=acc)


def _breakfast(draw: ImageDraw.ImageDraw, cx: int, cy: int, r: int, main: Color, acc: Color) -> None:
    for angle in np.linspace(0, 2 * np.pi, 12, endpoint=False):
        x, y = cx + 1.5 * r * np.cos(angle), cy + 1.5 * r * np.sin(angle)
        draw.line((cx, cy, x, y), fill=main, width=4)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=main)
    draw.ellipse((cx - r // 2, cy - r // 2, cx + r // 2, cy + r // 2), fill=acc)


def _sides(draw: ImageDraw.ImageDraw, cx: int, cy: int, r: int, main: Color, acc: Color) -> None:
    for offset in range(-r + 4, r - 4, 9):
        draw.rectangle((cx + offset, cy - r, cx + offset + 6, cy + r // 3), fill=main)
    draw.polygon([(cx - r, cy), (cx + r, cy), (cx + r * 0.7, cy + r), (cx - r * 0.7, cy + r)],
                 fill=acc)  # fmt: skip


def _drinks(draw: ImageDraw.ImageDraw, cx: int, cy: int, r: int, main: Color, acc: Color) -> None:
    draw.polygon([(cx - r * 0.7, cy - r), (cx + r * 0.7, cy - r), (cx + r * 0.5, cy + r),
                  (cx - r * 0.5, cy + r)], fill=main)  # fmt: skip
    draw.line((cx + 4, cy - r, cx + r // 2, cy - r - 18), fill=acc, width=5)
    draw.rectangle((cx - r * 0.7, cy - r * 0.3, cx + r * 0.7, cy), fill=acc)


def _hot_drinks(draw: ImageDraw.ImageDraw, cx: int, cy: int, r: int, main: Color, acc: Color) -> None:
    draw.rounded_rectangle((cx - r, cy - r // 2, cx + r // 2, cy + r), 8, fill=main)
    draw.arc((cx + r // 4, cy - r // 4, cx + r, cy + r // 2), 270, 90, fill=main, width=6)
    for offset in (-r // 2, -r // 6, r // 6):
        draw.arc((cx + offset - 6, cy - r - 22, cx + offset + 6, cy - r // 2 - 4), 90, 270,
                 fill=acc, width=3)  # fmt: skip


def _frozen_drinks(
    draw: ImageDraw.ImageDraw, cx: int, cy: int, r: int, main: Color, acc: Color
) -> None:
    draw.polygon([(cx - r // 2, cy - r // 2), (cx + r // 2, cy - r // 2), (cx + r // 3, cy + r),
                  (cx - r // 3, cy + r)], fill=acc)  # fmt: skip
    draw.ellipse((cx - r // 2, cy - r, cx + r // 2, cy - r // 4), fill=main)
    draw.line((cx, cy - r, cx + r // 3, cy - r - 20), fill=main, width=4)


def _desserts(draw: ImageDraw.ImageDraw, cx: int, cy: int, r: int, main: Color, acc: Color) -> None:
    draw.polygon([(cx - r // 2, cy), (cx + r // 2, cy), (cx, cy + r + 8)], fill=main)
    draw.ellipse((cx - r // 2 - 4, cy - r, cx + r // 2 + 4, cy + 6), fill=acc)
    draw.ellipse((cx - r // 3, cy - r - 14, cx + r // 3, cy - r // 2), fill=acc)


def _kids_meals(draw: ImageDraw.ImageDraw, cx: int, cy: int, r: int, main: Color, acc: Color) -> None:
    star = [
        (cx + r * np.cos(a) * (1 if i % 2 == 0 else 0.45), cy + r * np.sin(a) * (1 if i % 2 == 0 else 0.45))
        for i, a in enumerate(np.linspace(-np.pi / 2, 1.5 * np.pi, 10, endpoint=False))
    ]  # fmt: skip
    draw.polygon(star, fill=main)
    draw.ellipse((cx + r // 2, cy - r - 10, cx + r + 10, cy - r // 3), fill=acc)
    draw.line((cx + r * 0.75, cy - r // 3, cx + r // 2, cy + r), fill=acc, width=2)


PICTOGRAMS = {
    "burgers": _burger,
    "chicken": _chicken,
    "breakfast": _breakfast,
    "sides": _sides,
    "drinks": _drinks,
    "hot_drinks": _hot_drinks,
    "frozen_drinks": _frozen_drinks,
    "desserts": _desserts,
    "kids_meals": _kids_meals,
}


def _price_tag(offer: Offer) -> str:
    spec = offer.spec
    if spec.kind == "free":
        return "FREE"
    if spec.kind == "percent":
        return f"-{round(spec.value * 100)}%"
    if spec.kind == "amount_off":
        return f"${spec.value:g} OFF"
    if spec.quantity > 1:
        return f"{spec.quantity} for ${spec.value:g}"
    return f"${spec.value:g}"


def draw_offer_image(offer: Offer, seed: int) -> Image.Image:
    """The offer's picture: category background and pictogram, jittered per offer."""
    rng = np.random.default_rng([seed, 3, int(offer.offer_id[2:])])
    background, main, accent = PALETTES[offer.spec.category]
    shade = rng.integers(-25, 26, size=3)
    tinted = tuple(int(np.clip(c + s, 0, 255)) for c, s in zip(background, shade, strict=True))
    image = Image.new("RGB", (SIZE, SIZE), tinted)
    draw = ImageDraw.Draw(image)
    stripe = int(rng.integers(0, SIZE))
    draw.rectangle((0, stripe, SIZE, stripe + 10), fill=tuple(min(c + 30, 255) for c in tinted))
    cx, cy = (int(v) for v in rng.integers(52, 77, size=2))
    radius = int(rng.integers(24, 33))
    PICTOGRAMS[offer.spec.category](draw, cx, cy, radius, main, accent)
    draw.rectangle((0, SIZE - 22, SIZE, SIZE), fill=(20, 20, 20))
    draw.text((6, SIZE - 18), _price_tag(offer), fill=(255, 255, 255))
    return image


def write_offer_images(offers: list[Offer], folder: Path, seed: int) -> int:
    """Write images/<offer_id>.png for every offer; returns how many were written."""
    folder.mkdir(parents=True, exist_ok=True)
    for offer in offers:
        draw_offer_image(offer, seed).save(folder / f"{offer.offer_id}.png", format="PNG")
    return len(offers)
