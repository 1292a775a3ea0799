"""Assertions shared by the apps' test suites."""

from django.urls import reverse


def assert_links_follow_permissions(client_as, obj, app: str, model: str) -> None:
    """A viewer sees no Add/Edit/Delete links for ``obj``; an operator sees them all."""
    edit_url = reverse(f"{app}:{model}_edit", kwargs={"uuid": obj.uuid})
    delete_url = reverse(f"{app}:{model}_delete", kwargs={"uuid": obj.uuid})
    add_url = reverse(f"{app}:{model}_add")
    list_url = reverse(f"{app}:{model}_list")
    viewer, operator = client_as("viewer"), client_as("operator")

    viewer_detail = viewer.get(obj.get_absolute_url()).content.decode()
    assert edit_url not in viewer_detail
    assert delete_url not in viewer_detail
    assert add_url not in viewer.get(list_url).content.decode()

    operator_detail = operator.get(obj.get_absolute_url()).content.decode()
    assert edit_url in operator_detail
    assert delete_url in operator_detail
    assert add_url in operator.get(list_url).content.decode()


def login_with_second_factor(client, user):
    """Sign ``user`` in as after password and TOTP: a confirmed authenticator
    and a session that used it (what django-otp's login() records)."""
    import time

    from allauth.account.internal.flows import login as allauth_login
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=user, name="Test authenticator", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    # What allauth records at a password sign-in: sensitive actions (which
    # ask for recent authentication) see a fresh one.
    session[allauth_login.AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": time.time(), "username": user.get_username()}
    ]
    session[allauth_login._AUTHENTICATION_METHODS_USER_SESSION_KEY] = str(user.pk)
    session.save()
    return client
