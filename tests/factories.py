from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

PASSWORD = "a-long-test-password-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def role(user: Any, create: bool, extracted: str | None, **kwargs: object) -> None:
        if create and extracted:
            user.groups.add(Group.objects.get_or_create(name=extracted)[0])


def customers_insert(customers: dict[str, dict[str, Any]]) -> None:
    """Customers ({customer_id: fields}) written as an import writes them, with the chain's
    customer total; ids that exist already are left as they are."""
    import json

    import pandas as pd

    from segments.ingest.catalog_rows import insert_customers
    from segments.models import Customer

    known = set(
        Customer.objects.filter(customer_id__in=customers).values_list("customer_id", flat=True)
    )
    new = {c: fields for c, fields in customers.items() if c not in known}
    frame = pd.DataFrame(
        {
            "customer_id": list(new),
            "joined_at": [fields.get("joined_at") for fields in new.values()],
            "attributes": [json.dumps(fields.get("attributes", {})) for fields in new.values()],
        }
    )
    insert_customers(frame)
