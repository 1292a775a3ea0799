"""The periodic task that ends timed-out sessions everywhere."""

from datetime import timedelta

from django.utils import timezone

from security.models import UserSession
from security.tasks import end_timed_out_sessions
from tests.security.test_sessions import make_user, sign_in


def test_ends_idle_and_expired_sessions_only(db):
    user = make_user()
    fresh, idle, old = (sign_in(user) for _ in range(3))
    records = {c.session.session_key: c for c in (fresh, idle, old)}
    now = timezone.now()
    UserSession.objects.filter(session_key=idle.session.session_key).update(
        last_active=now - timedelta(minutes=31)
    )
    UserSession.objects.filter(session_key=old.session.session_key).update(
        created=now - timedelta(hours=13)
    )
    assert end_timed_out_sessions() == 2
    assert list(UserSession.objects.values_list("session_key", flat=True)) == [
        fresh.session.session_key
    ]
    # Gone from the session store too, not only from the list.
    for key, client in records.items():
        exists = client.session.__class__().exists(key)
        assert exists == (client is fresh)
    assert end_timed_out_sessions() == 0  # a second run finds nothing
