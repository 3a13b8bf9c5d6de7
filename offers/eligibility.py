"""Where and when an offer may run: pricing tier, daypart (store local time), channel and date.

An offer's empty list means "any". A daypart entry is a daypart name or an "HH:MM-HH:MM"
window; a window whose end is not after its start wraps midnight (late night 22:00-05:00).
The local time comes from a UTC instant and the store's IANA zone, so daylight saving time is
the zone database's business, not ours.

`EligibilityTable` evaluates many offers against many contexts at once with numpy: each
offer's daypart entries become a 1,440-minute mask, tiers and channels become small lookup
tables, so a matrix of offers x contexts costs a few array operations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from offers.dayparts import MINUTES_PER_DAY, Window, daypart_minutes, entries_mask, minute_of_day
from offers.models import Offer, Store

NO_DATE_LOW = np.iinfo(np.int64).min
NO_DATE_HIGH = np.iinfo(np.int64).max
CONSTRAINTS = ("tier", "dates", "daypart", "channel")


@dataclass(frozen=True)
class Context:
    """One moment at one store on one channel, in the store's local time."""

    pricing_tier: str
    local: dt.datetime
    channel: str

    @property
    def minute(self) -> int:
        return minute_of_day(self.local)

    @property
    def date(self) -> dt.date:
        return self.local.date()


def store_local_time(*, instant: dt.datetime, timezone: str) -> dt.datetime:
    """The wall-clock time at a store for a UTC instant (naive instants are taken as UTC)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    return instant.astimezone(ZoneInfo(timezone))


def store_context(*, store: Store, instant: dt.datetime, channel: str) -> Context:
    return Context(
        pricing_tier=store.pricing_tier,
        local=store_local_time(instant=instant, timezone=store.timezone),
        channel=channel,
    )


def _ordinal(value: dt.date | None, missing: int) -> int:
    return value.toordinal() if value is not None else missing


class EligibilityTable:
    """Offers prepared once, then checked against any number of contexts."""

    def __init__(self, offers: Sequence[Offer], *, dayparts: dict[str, Window] | None = None):
        self.dayparts = daypart_minutes() if dayparts is None else dayparts
        self.offers = list(offers)
        self.offer_ids = [o.offer_id for o in self.offers]
        count = len(self.offers)
        self.minutes = np.zeros((count, MINUTES_PER_DAY), dtype=bool)
        for row, offer in enumerate(self.offers):
            self.minutes[row] = entries_mask(offer.dayparts, self.dayparts)
        self.valid_from = np.array(
            [_ordinal(o.valid_from, NO_DATE_LOW) for o in self.offers], dtype=np.int64
        )
        self.valid_to = np.array(
            [_ordinal(o.valid_to, NO_DATE_HIGH) for o in self.offers], dtype=np.int64
        )
        self._tiers = [frozenset(o.pricing_tiers) for o in self.offers]
        self._channels = [frozenset(o.channels) for o in self.offers]
        self._cache: dict[tuple[str, frozenset[str]], np.ndarray] = {}

    def _allowed(
        self, runs_in: Callable[[Iterable[str]], np.ndarray], values: Sequence[str]
    ) -> np.ndarray:
        """offers x contexts: the context's value is in the offer's set, or the set is empty
        (`runs_in`: runs_in_tiers or runs_on_channels, which keep each value's column)."""
        vocabulary, codes = np.unique(
            np.asarray(values, dtype=object).astype(str), return_inverse=True
        )
        columns = [runs_in([str(value)]) for value in vocabulary]
        table = np.stack(columns, axis=1) if columns else np.zeros((len(self.offers), 0), bool)
        return table[:, codes]

    def constraint_masks(
        self,
        *,
        tiers: Sequence[str],
        minutes: Sequence[int] | np.ndarray,
        channels: Sequence[str],
        dates: Sequence[dt.date],
    ) -> dict[str, np.ndarray]:
        """Each constraint alone as boolean offers x contexts, in the order an exclusion names
        the first that fails: tier, dates, daypart, channel."""
        count = len(tiers)
        if not (len(minutes) == len(channels) == len(dates) == count):
            raise ValueError("tiers, minutes, channels and dates must have the same length")
        if count == 0 or not self.offers:
            empty = np.zeros((len(self.offers), count), dtype=bool)
            return {name: empty for name in CONSTRAINTS}
        ordinals = np.array([d.toordinal() for d in dates], dtype=np.int64)
        return {
            "tier": self._allowed(self.runs_in_tiers, tiers),
            "dates": (self.valid_from[:, None] <= ordinals[None, :])
            & (ordinals[None, :] <= self.valid_to[:, None]),
            "daypart": self.minutes[:, np.asarray(minutes, dtype=np.int64)],
            "channel": self._allowed(self.runs_on_channels, channels),
        }

    def matrix(
        self,
        *,
        tiers: Sequence[str],
        minutes: Sequence[int] | np.ndarray,
        channels: Sequence[str],
        dates: Sequence[dt.date],
    ) -> np.ndarray:
        """Boolean offers x contexts; the four sequences describe the contexts column-wise."""
        masks = self.constraint_masks(tiers=tiers, minutes=minutes, channels=channels, dates=dates)
        return np.logical_and.reduce(list(masks.values()))

    def for_contexts(self, contexts: Sequence[Context]) -> np.ndarray:
        return self.matrix(
            tiers=[c.pricing_tier for c in contexts],
            minutes=[c.minute for c in contexts],
            channels=[c.channel for c in contexts],
            dates=[c.date for c in contexts],
        )

    def _cached(self, kind: str, values: Iterable[str], compute: Any) -> np.ndarray:
        """Validation asks the same few questions for every slot; answer each once."""
        key = (kind, frozenset(values))
        if key not in self._cache:
            self._cache[key] = compute(key[1])
            self._cache[key].flags.writeable = False
        return self._cache[key]

    def overlaps_dayparts(self, entries: Iterable[str]) -> np.ndarray:
        """Per offer: may it run at some minute of the given dayparts or windows?"""

        def compute(wanted: frozenset[str]) -> np.ndarray:
            mask = entries_mask(sorted(wanted), self.dayparts)
            return np.asarray(self.minutes[:, mask].any(axis=1), dtype=bool)

        return self._cached("dayparts", entries, compute)

    def runs_in_tiers(self, tiers: Iterable[str]) -> np.ndarray:
        """Per offer: may it run in at least one of the tiers (no tiers given: any)?"""

        def compute(wanted: frozenset[str]) -> np.ndarray:
            return np.array(
                [not wanted or not t or bool(t & wanted) for t in self._tiers], dtype=bool
            )

        return self._cached("tiers", tiers, compute)

    def runs_on_channels(self, channels: Iterable[str]) -> np.ndarray:
        def compute(wanted: frozenset[str]) -> np.ndarray:
            return np.array(
                [not wanted or not c or bool(c & wanted) for c in self._channels], dtype=bool
            )

        return self._cached("channels", channels, compute)

    def valid_between(self, start: dt.date | None, end: dt.date | None) -> np.ndarray:
        """Per offer: is it valid on at least one day of [start, end] (None: open)?"""
        low = _ordinal(start, NO_DATE_LOW)
        high = _ordinal(end, NO_DATE_HIGH)
        return (self.valid_from <= high) & (self.valid_to >= low)


def offer_is_eligible(offer: Offer, context: Context) -> bool:
    """One offer in one context; for many, build an EligibilityTable once."""
    return bool(EligibilityTable([offer]).for_contexts([context])[0, 0])
