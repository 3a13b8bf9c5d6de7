import datetime as dt

# DATA_CONTRACT.md's default dayparts, in store local time; the chain can edit them.
DEFAULT_DAYPARTS = [
    ("breakfast", dt.time(5, 0), dt.time(10, 30)),
    ("lunch", dt.time(10, 30), dt.time(14, 0)),
    ("afternoon", dt.time(14, 0), dt.time(17, 0)),
    ("dinner", dt.time(17, 0), dt.time(21, 0)),
    ("late_night", dt.time(21, 0), dt.time(5, 0)),
]
