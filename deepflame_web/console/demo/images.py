"""Offer artwork: a small PNG per offer, drawn so that categories look different.

Each category has its own palette and pictogram (a stacked burger, fries, a steaming mug...), so
an image encoder separates categories; a per-offer jitter of position, size and accent color,
plus the price tag, keeps offers of one category from being identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from deepflame_web.console.demo.chain import Offer

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


@dataclass(frozen=True)
class Sketch:
    """Where and in which colors a pictogram is drawn."""

    draw: ImageDraw.ImageDraw
    cx: int
    cy: int
    r: int
    main: Color
    accent: Color


def _burger(s: Sketch) -> None:
    cx, cy, r = s.cx, s.cy, s.r
    s.draw.pieslice((cx - r, cy - r, cx + r, cy + r // 2), 180, 360, fill=s.main)
    s.draw.rectangle((cx - r, cy - r // 4, cx + r, cy + r // 6), fill=s.accent)
    s.draw.rectangle((cx - r, cy + r // 6, cx + r, cy + r // 3), fill=(60, 170, 60))
    s.draw.rounded_rectangle((cx - r, cy + r // 3, cx + r, cy + r * 2 // 3), 6, fill=s.main)


def _chicken(s: Sketch) -> None:
    cx, cy, r = s.cx, s.cy, s.r
    s.draw.ellipse((cx - r, cy - r, cx + r // 3, cy + r // 2), fill=s.main)
    s.draw.polygon([(cx, cy), (cx + r, cy + r), (cx + r // 2, cy + r)], fill=s.accent)
    s.draw.ellipse((cx + r - 10, cy + r - 10, cx + r + 6, cy + r + 6), fill=s.accent)


def _breakfast(s: Sketch) -> None:
    cx, cy, r = s.cx, s.cy, s.r
    for angle in np.linspace(0, 2 * np.pi, 12, endpoint=False):
        end = (cx + 1.5 * r * np.cos(angle), cy + 1.5 * r * np.sin(angle))
        s.draw.line((cx, cy, *end), fill=s.main, width=4)
    s.draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=s.main)
    s.draw.ellipse((cx - r // 2, cy - r // 2, cx + r // 2, cy + r // 2), fill=s.accent)


def _sides(s: Sketch) -> None:
    cx, cy, r = s.cx, s.cy, s.r
    for offset in range(-r + 4, r - 4, 9):
        s.draw.rectangle((cx + offset, cy - r, cx + offset + 6, cy + r // 3), fill=s.main)
    carton = [(cx - r, cy), (cx + r, cy), (cx + r * 0.7, cy + r), (cx - r * 0.7, cy + r)]
    s.draw.polygon(carton, fill=s.accent)


def _drinks(s: Sketch) -> None:
    cx, cy, r = s.cx, s.cy, s.r
    cup = [
        (cx - r * 0.7, cy - r),
        (cx + r * 0.7, cy - r),
        (cx + r * 0.5, cy + r),
        (cx - r * 0.5, cy + r),
    ]
    s.draw.polygon(cup, fill=s.main)
    s.draw.line((cx + 4, cy - r, cx + r // 2, cy - r - 18), fill=s.accent, width=5)
    s.draw.rectangle((cx - r * 0.7, cy - r * 0.3, cx + r * 0.7, cy), fill=s.accent)


def _hot_drinks(s: Sketch) -> None:
    cx, cy, r = s.cx, s.cy, s.r
    s.draw.rounded_rectangle((cx - r, cy - r // 2, cx + r // 2, cy + r), 8, fill=s.main)
    s.draw.arc((cx + r // 4, cy - r // 4, cx + r, cy + r // 2), 270, 90, fill=s.main, width=6)
    for offset in (-r // 2, -r // 6, r // 6):
        steam = (cx + offset - 6, cy - r - 22, cx + offset + 6, cy - r // 2 - 4)
        s.draw.arc(steam, 90, 270, fill=s.accent, width=3)


def _frozen_drinks(s: Sketch) -> None:
    cx, cy, r = s.cx, s.cy, s.r
    glass = [
        (cx - r // 2, cy - r // 2),
        (cx + r // 2, cy - r // 2),
        (cx + r // 3, cy + r),
        (cx - r // 3, cy + r),
    ]
    s.draw.polygon(glass, fill=s.accent)
    s.draw.ellipse((cx - r // 2, cy - r, cx + r // 2, cy - r // 4), fill=s.main)
    s.draw.line((cx, cy - r, cx + r // 3, cy - r - 20), fill=s.main, width=4)


def _desserts(s: Sketch) -> None:
    cx, cy, r = s.cx, s.cy, s.r
    s.draw.polygon([(cx - r // 2, cy), (cx + r // 2, cy), (cx, cy + r + 8)], fill=s.main)
    s.draw.ellipse((cx - r // 2 - 4, cy - r, cx + r // 2 + 4, cy + 6), fill=s.accent)
    s.draw.ellipse((cx - r // 3, cy - r - 14, cx + r // 3, cy - r // 2), fill=s.accent)


def _kids_meals(s: Sketch) -> None:
    cx, cy, r = s.cx, s.cy, s.r
    angles = np.linspace(-np.pi / 2, 1.5 * np.pi, 10, endpoint=False)
    reach = np.where(np.arange(10) % 2 == 0, 1.0, 0.45) * r
    s.draw.polygon(
        list(zip(cx + reach * np.cos(angles), cy + reach * np.sin(angles), strict=True)),
        fill=s.main,
    )
    s.draw.ellipse((cx + r // 2, cy - r - 10, cx + r + 10, cy - r // 3), fill=s.accent)
    s.draw.line((cx + r * 0.75, cy - r // 3, cx + r // 2, cy + r), fill=s.accent, width=2)


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
    PICTOGRAMS[offer.spec.category](Sketch(draw, cx, cy, radius, main, accent))
    draw.rectangle((0, SIZE - 22, SIZE, SIZE), fill=(20, 20, 20))
    draw.text((6, SIZE - 18), _price_tag(offer), fill=(255, 255, 255))
    return image


def write_offer_images(offers: list[Offer], folder: Path, seed: int) -> int:
    """Write images/<offer_id>.png for every offer; returns how many were written."""
    folder.mkdir(parents=True, exist_ok=True)
    for offer in offers:
        draw_offer_image(offer, seed).save(folder / f"{offer.offer_id}.png", format="PNG")
    return len(offers)
