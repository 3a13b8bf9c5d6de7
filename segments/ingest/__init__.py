"""Import of a chain's history in the format of DATA_CONTRACT.md (version 1)."""
