"""Changes made with bulk UPDATEs (no model signal) are recorded through the
owning app's signal."""

from gateways.enrolment import issue_token, revoke_tokens
from tests.factories import GatewayFactory


def test_revoking_enrolment_tokens_is_recorded(records):
    gateway = GatewayFactory()
    issue_token(gateway)
    issue_token(gateway)
    assert revoke_tokens(gateway) == 2
    [record] = records(action="gateway.enrolment_tokens_revoke")
    assert record.object_name == gateway.name
    assert revoke_tokens(gateway) == 0  # nothing left: nothing recorded
    assert len(records(action="gateway.enrolment_tokens_revoke")) == 1


def test_invitation_replaced_revoked_and_accepted_are_recorded(records, client):
    from django.urls import reverse

    from accounts.models import Invitation
    from tests.factories import user_with_role

    invited = user_with_role("newbie", is_active=False)
    Invitation.issue(invited)
    _invitation, token = Invitation.issue(invited)
    assert len(records(action="invitation.replaced")) == 1
    password = "correct horse battery staple 42"
    response = client.post(
        reverse("accounts:invitation_accept", args=[token]),
        {"new_password1": password, "new_password2": password},
    )
    assert response.status_code == 302
    [accepted] = records(action="invitation.accepted")
    assert accepted.object_name == str(invited)
