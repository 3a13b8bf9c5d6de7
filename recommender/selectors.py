from typing import Any


def model_version_active() -> Any:
    """The active TxT model version; none exists until the training capability lands."""
    return None
