"""factory_boy factories shared by every test package."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from knowledge import services
from knowledge.models import Category


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pass-for-tests-1")

    @factory.post_generation
    def role(self: Any, create: bool, extracted: str | None, **kwargs: object) -> None:
        # factory_boy calls this with the created user as `self`, not the factory.
        if create:
            self.save()
        if create and extracted:
            group, _ = Group.objects.get_or_create(name=extracted)
            self.groups.add(group)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.LazyAttribute(lambda c: c.name.lower().replace(" ", "-"))


def make_article(
    *,
    author,
    title: str = "How to reset your password",
    body: str = "## Steps\n\nOpen **Settings**, choose *Account* and press Reset.",
    publish: bool = True,
    visibility: str = "public",
    **kwargs,
):
    """Create an article through the real services (so audit and signals run)."""
    if publish:
        return services.article_create_published(
            title=title, body=body, author=author, visibility=visibility, **kwargs
        )
    return services.article_create(
        title=title, body=body, author=author, visibility=visibility, **kwargs
    )
