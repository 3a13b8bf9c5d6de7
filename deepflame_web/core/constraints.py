from django.db import models


def one_active(name: str) -> models.UniqueConstraint:
    """At most one row flagged active: the switch to a new active result is one transaction,
    and the database refuses a second active row if two switches race."""
    return models.UniqueConstraint(
        fields=["is_active"], condition=models.Q(is_active=True), name=name
    )
