"""The offer columns of the data contract (DATA_CONTRACT.md), in file order, defined once.

The import, the contract's validator, the demo generator, the offer save and the audit log
all read them from here; plain names, so any layer may import them without Django set up.
"""

OFFER_REQUIRED_COLUMNS = ("offer_id", "name", "description")
OFFER_LIST_COLUMNS = ("pricing_tiers", "dayparts", "channels", "item_ids")
OFFER_COLUMNS = (
    *OFFER_REQUIRED_COLUMNS,
    "image",
    "category",
    *OFFER_LIST_COLUMNS,
    "discount_value",
    "valid_from",
    "valid_to",
)
