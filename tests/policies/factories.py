"""Policy factories (the shared kit is tests/factories.py)."""

from __future__ import annotations

import factory

from policies.models import Policy, PolicyCategory, Rule


class PolicyCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PolicyCategory

    name = factory.Sequence(lambda n: f"Category {n}")


class PolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Policy
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"policy-{n:03d}")
    description = factory.Sequence(lambda n: f"Test policy number {n}.")
    priority = 100

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if create and extracted:
            self.tags.set(extracted)


class RuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rule

    policy = factory.SubFactory(PolicyFactory)
    position = factory.LazyAttribute(lambda rule: rule.policy.rules.count() + 1)
    action = "allow"
    protocol = "tcp"
    ports = "443"
    dst_cidrs = factory.LazyFunction(lambda: ["10.0.0.0/8"])


def ref(obj) -> dict:
    """A reference as rules store it: regions and gateways by uuid, groups by pk."""
    from django.contrib.auth.models import Group

    if isinstance(obj, Group):
        return {"id": str(obj.pk), "name": obj.name}
    return {"id": str(obj.uuid), "name": obj.name}
