from typing import Any

from segments.models import Customer


def customer_count() -> int:
    return Customer.objects.count()


def segmentation_active() -> Any:
    """The active segmentation; none exists until the segmentation capability lands."""
    return None
