"""Names of the channel-layer groups that browser tabs subscribe to."""


def user_group(user_id: int) -> str:
    """Every open tab of one user: notifications and forced sign-outs."""
    return f"console.user-{user_id}"
