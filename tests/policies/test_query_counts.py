"""List, detail, publish, revisions and simulate pages cost the same number
of queries with 2 or 12 policies (and their rules, gateways, revisions)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from policies.publishing import publish
from tests.factories import make_fleet
from tests.helpers import login_with_second_factor
from tests.policies.factories import PolicyFactory, RuleFactory

pytestmark = pytest.mark.django_db


def grow(n: int, author, start: int) -> None:
    make_fleet(n)
    for i in range(start, start + n):
        policy = PolicyFactory(name=f"p-{i:03d}", tags=["a", "b"])
        RuleFactory(policy=policy, ports=str(1000 + i))
        RuleFactory(policy=policy, ports=str(2000 + i), comment=f"c{i}")
    publish(author, f"with {start + n}", confirm_warnings=True)


def test_pages_do_not_grow_with_the_data(publisher, count_queries):
    client = login_with_second_factor(Client(), publisher)
    grow(2, publisher, 0)
    first_policy = PolicyFactory(name="a-first")
    RuleFactory(policy=first_policy)
    pages = {
        "list": reverse("policies:policy_list"),
        "search": reverse("policies:policy_list") + "?q=10.1.1.1",
        "detail": first_policy.get_absolute_url(),
        "publish": reverse("policies:publish"),
        "revisions": reverse("policies:revision_list"),
        "compare": reverse("policies:revision_compare"),
        "simulate": reverse("policies:simulate") + "?destination=10.1.1.1&protocol=tcp&port=443",
    }
    small = {name: count_queries(client, url) for name, url in pages.items()}
    grow(10, publisher, 2)
    large = {name: count_queries(client, url) for name, url in pages.items()}
    assert small == large
