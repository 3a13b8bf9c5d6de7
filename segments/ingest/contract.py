"""The tables and columns of DATA_CONTRACT.md, version 1, as data the validator walks.

The tables the lake keeps take their names and keys from `deepflame_web.core.lake_tables`,
which the lake dedupes by; this adds how each column is read and checked.
"""

from dataclasses import dataclass
from enum import Enum

from deepflame_web.core import lake_tables as lake
from offers.columns import OFFER_COLUMNS, OFFER_LIST_COLUMNS, OFFER_REQUIRED_COLUMNS


class Kind(Enum):
    TEXT = "text"
    DECIMAL = "decimal"
    INTEGER = "integer"
    FLOAT = "float"
    TIMESTAMP = "timestamp"
    DATE = "date"
    LIST = "list"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = Kind.TEXT
    required: bool = True
    not_negative: bool = False
    positive: bool = False
    not_empty: bool = False
    max_length: int | None = None

    @property
    def identifier(self) -> bool:
        """Ids end up in page addresses, so they are held to what an address can carry."""
        return self.kind is Kind.TEXT and self.name.endswith("_id")

    @property
    def longest(self) -> int | None:
        return ID_MAX_LENGTH if self.identifier else self.max_length


@dataclass(frozen=True)
class Table:
    name: str
    required: bool
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    keeps_extra_columns: bool = False

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


ID_MAX_LENGTH = 100
"""The longest id the catalog and customer tables hold (their `max_length`)."""


def _text(
    name: str, required: bool = True, not_empty: bool = False, max_length: int | None = None
) -> Column:
    return Column(name, Kind.TEXT, required=required, not_empty=not_empty, max_length=max_length)


STORES = Table(
    "stores",
    required=True,
    key=("store_id",),
    columns=(
        _text("store_id", not_empty=True),
        _text("name", not_empty=True, max_length=200),
        _text("pricing_tier", not_empty=True, max_length=50),
        _text("region", required=False, max_length=100),
        _text("timezone", required=False),
        Column("latitude", Kind.FLOAT, required=False),
        Column("longitude", Kind.FLOAT, required=False),
    ),
)
ITEMS = Table(
    "items",
    required=True,
    key=("item_id",),
    columns=(
        _text("item_id", not_empty=True),
        _text("name", not_empty=True, max_length=200),
        _text("category", required=False, max_length=100),
        Column("price", Kind.DECIMAL, required=False, not_negative=True),
        Column("unit_cost", Kind.DECIMAL, required=False, not_negative=True),
    ),
)
CUSTOMERS = Table(
    "customers",
    required=False,
    key=("customer_id",),
    keeps_extra_columns=True,
    columns=(
        _text("customer_id", not_empty=True),
        Column("joined_at", Kind.DATE, required=False),
    ),
)
ORDERS = Table(
    lake.ORDERS.name,
    required=True,
    key=lake.ORDERS.key,
    columns=(
        _text("order_id", not_empty=True),
        _text("customer_id"),
        _text("store_id", not_empty=True),
        Column("ordered_at", Kind.TIMESTAMP),
        _text("channel", not_empty=True),
        Column("total", Kind.DECIMAL, not_negative=True),
        Column("gross_margin", Kind.DECIMAL, required=False),
    ),
)
ORDER_LINES = Table(
    lake.ORDER_LINES.name,
    required=True,
    key=lake.ORDER_LINES.key,
    columns=(
        _text("order_id", not_empty=True),
        _text("item_id", not_empty=True),
        Column("quantity", Kind.INTEGER, positive=True),
        Column("amount", Kind.DECIMAL),
        _text("offer_id", required=False),
    ),
)
# The offer columns are the offers app's list; the contract adds how each one is read.
OFFER_KINDS = {
    **dict.fromkeys(OFFER_LIST_COLUMNS, Kind.LIST),
    "discount_value": Kind.DECIMAL,
    "valid_from": Kind.DATE,
    "valid_to": Kind.DATE,
}


OFFER_MAX_LENGTHS = {"name": 200, "category": 100}


def _offer_column(name: str) -> Column:
    required = name in OFFER_REQUIRED_COLUMNS
    return Column(
        name,
        OFFER_KINDS.get(name, Kind.TEXT),
        required=required,
        not_empty=required,
        max_length=OFFER_MAX_LENGTHS.get(name),
    )


OFFERS = Table(
    "offers",
    required=True,
    key=("offer_id",),
    columns=tuple(_offer_column(name) for name in OFFER_COLUMNS),
)
OFFER_ASSIGNMENTS = Table(
    lake.OFFER_ASSIGNMENTS.name,
    required=False,
    key=lake.OFFER_ASSIGNMENTS.key,
    columns=(
        _text("customer_id", not_empty=True),
        _text("offer_id", not_empty=True),
        Column("assigned_at", Kind.TIMESTAMP),
    ),
)
OFFER_REDEMPTIONS = Table(
    lake.OFFER_REDEMPTIONS.name,
    required=False,
    key=lake.OFFER_REDEMPTIONS.key,
    columns=(
        _text("customer_id", not_empty=True),
        _text("offer_id", not_empty=True),
        Column("redeemed_at", Kind.TIMESTAMP),
        _text("order_id", required=False),
        _text("store_id", required=False),
    ),
)
WEATHER = Table(
    lake.WEATHER.name,
    required=False,
    key=lake.WEATHER.key,
    columns=(
        _text("store_id", not_empty=True),
        Column("date", Kind.DATE),
        Column("temp_c", Kind.DECIMAL),
        Column("precip_mm", Kind.DECIMAL, not_negative=True),
        _text("condition", required=False),
    ),
)

TABLES = (
    STORES,
    ITEMS,
    CUSTOMERS,
    ORDERS,
    ORDER_LINES,
    OFFERS,
    OFFER_ASSIGNMENTS,
    OFFER_REDEMPTIONS,
    WEATHER,
)
TABLES_BY_NAME = {table.name: table for table in TABLES}
FILE_SUFFIXES = (".csv", ".csv.gz", ".parquet")
LIST_SEPARATOR = "|"
