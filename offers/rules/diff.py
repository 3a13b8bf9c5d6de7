"""A structured diff of two rules documents: per segment, then per slot by position."""

from __future__ import annotations

from typing import Any

from offers.rules.document import SLOT_FIELDS, document_parse

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"
SAME = "same"


def rules_diff(before: Any, after: Any) -> dict[str, Any]:
    """What changed from `before` to `after`, segment by segment and slot by slot.

    Slots are matched by position, since the order is what a marketer arranges; a changed
    slot lists each changed field with its old and new value.
    """
    old = {rule.segment_key: rule for rule in document_parse(before).segments}
    new = {rule.segment_key: rule for rule in document_parse(after).segments}
    keys = sorted(old.keys() | new.keys(), key=lambda k: (k is not None, k if k is not None else 0))
    segments = []
    for key in keys:
        old_slots = [vars(s) for s in old[key].slots] if key in old else []
        new_slots = [vars(s) for s in new[key].slots] if key in new else []
        slots = []
        for position in range(1, max(len(old_slots), len(new_slots)) + 1):
            a = old_slots[position - 1] if position <= len(old_slots) else None
            b = new_slots[position - 1] if position <= len(new_slots) else None
            if a is None:
                slots.append({"position": position, "status": ADDED, "after": b})
            elif b is None:
                slots.append({"position": position, "status": REMOVED, "before": a})
            else:
                changes = {
                    name: {"before": a[name], "after": b[name]}
                    for name in SLOT_FIELDS
                    if a[name] != b[name]
                }
                slots.append(
                    {
                        "position": position,
                        "label": b["label"],
                        "status": CHANGED if changes else SAME,
                        "changes": changes,
                    }
                )
        if key not in old:
            status = ADDED
        elif key not in new:
            status = REMOVED
        else:
            status = CHANGED if any(s["status"] != SAME for s in slots) else SAME
        segments.append({"segment_key": key, "status": status, "slots": slots})
    return {
        "changed": any(s["status"] != SAME for s in segments),
        "segments": segments,
    }
