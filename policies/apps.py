from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    """Access policies: draft, validation, revisions, simulation, rollout."""

    name = "policies"

    def ready(self) -> None:
        from gateways.agent.hooks import register_config_section
        from policies.agent import policy_config

        # Publishing bumps the config version itself (policies.publishing):
        # draft edits change nothing gateways see, so no save signals here.
        register_config_section("policies", policy_config)

        from gateways.panels import register_gateway_notice
        from policies.rollout import gateway_policy_state

        register_gateway_notice(
            "policies/partials/gateway_policy_rollout.html",
            lambda gateway: {"state": gateway_policy_state(gateway)},
        )
