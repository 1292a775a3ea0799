"""The OpenAPI schema is valid and complete enough to generate clients from."""

from django.core.management import call_command


def test_schema_validates_without_warnings(tmp_path, db):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = target.read_text()
    assert schema.startswith("openapi: 3.1.0")
    for path in ("/api/v1/gateways/", "/api/v1/policies/", "/api/agent/v1/heartbeat"):
        assert path in schema
