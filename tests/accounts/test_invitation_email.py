"""Invitation emails through a real SMTP server (aiosmtpd on loopback)."""

import socket

import pytest
from django.urls import reverse

from accounts.models import User
from tests.factories import user_with_role
from tests.helpers import login_with_second_factor


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    class Inbox(Sink):
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope)
            return "250 Message accepted for delivery"

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


@pytest.fixture
def smtp_settings(settings):
    def point_at(port: int):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 5

    return point_at


@pytest.fixture
def admin_client(client, db):
    return login_with_second_factor(client, user_with_role("mailer", "Admin"))


def test_invitation_reaches_the_smtp_server(admin_client, smtp_server, smtp_settings):
    controller, inbox = smtp_server
    smtp_settings(controller.port)
    response = admin_client.post(
        reverse("accounts:user_add"), {"email": "dora@example.com", "first_name": "Dora"}
    )
    assert response.status_code == 200
    assert "Invitation sent to dora@example.com" in response.content.decode()
    assert len(inbox.messages) == 1
    envelope = inbox.messages[0]
    assert envelope.rcpt_tos == ["dora@example.com"]
    body = envelope.content.decode()
    assert "/invitation/rci_" in body
    assert "Your username is: dora" in body


def test_unreachable_mail_server_still_gives_the_link(admin_client, smtp_settings):
    smtp_settings(free_port())  # nobody listens there
    response = admin_client.post(reverse("accounts:user_add"), {"email": "eli@example.com"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "the email was not sent" in page
    assert "/invitation/rci_" in page
    assert User.objects.filter(email="eli@example.com", is_active=False).exists()
