"""What other apps plug into the agent API, so that gateways (lower in the app
stack) never imports tunnels, policies or security.

- ``config_sections``: name -> function(gateway) returning the JSON list for
  that key of the configuration a gateway pulls (tunnels, policies).
- ``heartbeat_hooks``: functions(gateway, heartbeat, now) run inside the
  heartbeat's transaction (tunnels record their live state).
- ``event_sink``: function(gateway, events) -> (accepted, duplicates) that
  stores security events (the security app).
- ``offline_hooks``: functions(gateway_pks, now) run inside the transaction
  that marks silent gateways offline (tunnels drop the state those gateways
  can no longer vouch for).
"""

from __future__ import annotations

from collections.abc import Callable

config_sections: dict[str, Callable] = {}
heartbeat_hooks: list[Callable] = []
event_sink: dict[str, Callable] = {}
offline_hooks: list[Callable] = []


def register_config_section(name: str, builder: Callable) -> None:
    config_sections[name] = builder


def register_heartbeat_hook(hook: Callable) -> None:
    if hook not in heartbeat_hooks:
        heartbeat_hooks.append(hook)


def register_event_sink(sink: Callable) -> None:
    event_sink["default"] = sink


def register_offline_hook(hook: Callable) -> None:
    if hook not in offline_hooks:
        offline_hooks.append(hook)
