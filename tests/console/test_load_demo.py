"""`manage.py load_demo`: the demo fleet `make run` shows, loaded once."""

from io import StringIO

from django.core.management import call_command

from gateways.models import Gateway, Region
from policies.models import Policy, PolicyRevision
from tunnels.models import Tunnel


def test_loads_the_fleet_and_publishes_demo_policies_once(db):
    out = StringIO()
    call_command("load_demo", stdout=out)
    assert "4 regions, 12 gateways, 7 tunnels and 3 policies added" in out.getvalue()
    assert Region.objects.count() == 4
    assert Gateway.objects.count() == 12
    assert Tunnel.objects.count() == 7
    revision = PolicyRevision.objects.get()
    assert revision.message == "Demo policies"
    assert [p["name"] for p in revision.snapshot["policies"]] == [
        "Management access",
        "EU payments",
        "Office web",
    ]

    call_command("load_demo", stdout=StringIO())  # again: nothing doubles
    assert Gateway.objects.count() == 12
    assert Policy.objects.count() == 3
    assert PolicyRevision.objects.count() == 1
