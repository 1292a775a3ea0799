"""How the OpenAPI schema describes agent authentication (drf-spectacular
needs an extension for an authentication class it does not know)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class GatewayCredentialScheme(OpenApiAuthenticationExtension):
    target_class = "gateways.agent.authentication.GatewayCredentialAuthentication"
    name = "gatewayCredential"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The credential a gateway received at enrolment (rcg_…).",
        }
