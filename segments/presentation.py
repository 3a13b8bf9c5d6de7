"""How segments look on every page: one color per stable key, values and z-scores in words."""

PALETTE = [
    "#d35400", "#2e86c1", "#28b463", "#8e44ad", "#c0392b",
    "#17a589", "#b7950b", "#5d6d7e", "#e67e22", "#1abc9c",
]  # fmt: skip


def segment_color(key: int) -> str:
    """One color per stable key, so a segment looks the same on every page and chart."""
    return PALETTE[(key - 1) % len(PALETTE)]


def z_words(z: float | None) -> str:
    """A z-score as a marketer says it."""
    if z is None:
        return "no data"
    size = abs(z)
    side = "above" if z > 0 else "below"
    if size >= 1.5:
        return f"far {side} average"
    if size >= 0.75:
        return f"well {side} average"
    if size >= 0.25:
        return f"{side} average"
    return "about average"


def format_value(name: str, value: float | None) -> str:
    """Shares as percentages, days and counts as plain numbers, money with two decimals."""
    if value is None:
        return "—"
    if "share" in name:
        return f"{value:.0%}"
    if name.endswith("_days"):
        return f"{value:,.0f}"
    if name == "offer_rate":
        return f"{value:.2f}"
    return f"{value:,.1f}" if name in ("visits", "items_per_order") else f"{value:,.2f}"
