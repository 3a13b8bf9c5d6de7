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
