"""A real SAML 2.0 identity provider for the tests: pysaml2's IdP (signing
with xmlsec1) served by wsgiref in its own process on a free loopback port.

    python -m tests.directory_support.saml_idp <config.json>

config.json: {"key_file", "cert_file", "accounts_file"}; the accounts file
({login: {"password", "attributes", "sign": true}}) is read at each sign-in.
Prints {"base_url": …} once it listens.

Endpoints: /metadata (the IdP's metadata), /sso/redirect (HTTP-Redirect
binding: a username + password form), /sso/login (the form's POST: an
auto-submitting form that POSTs the Response to the SP's ACS URL from the
request). ``"sign": false`` on an account makes the IdP send its assertion
unsigned, which the console must refuse.
"""

from __future__ import annotations

import html
import json
import shutil
import sys
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def idp_config(base_url: str, key_file: str, cert_file: str) -> dict:
    from saml2 import BINDING_HTTP_REDIRECT
    from saml2.saml import NAME_FORMAT_URI

    return {
        "entityid": f"{base_url}/metadata",
        "service": {
            "idp": {
                "endpoints": {
                    "single_sign_on_service": [(f"{base_url}/sso/redirect", BINDING_HTTP_REDIRECT)]
                },
                "name_id_format": ["urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"],
                "policy": {"default": {"name_form": NAME_FORMAT_URI, "lifetime": {"minutes": 5}}},
                "sign_assertion": True,
                "want_authn_requests_signed": False,
            }
        },
        "key_file": key_file,
        "cert_file": cert_file,
        "xmlsec_binary": shutil.which("xmlsec1"),
        "metadata": {},
    }


def page(body: str) -> bytes:
    head = '<meta charset="utf-8"><title>Test SAML IdP</title>'
    return f'<!doctype html><html lang="en"><head>{head}</head><body>{body}</body></html>'.encode()


def make_app(server, accounts_file: str):
    from saml2 import BINDING_HTTP_REDIRECT
    from saml2.metadata import create_metadata_string
    from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/metadata":
            xml = create_metadata_string(None, config=server.config, sign=False)
            start_response("200 OK", [("Content-Type", "text/xml")])
            return [xml if isinstance(xml, bytes) else xml.encode()]
        if path == "/sso/redirect":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            fields = "".join(
                f'<input type="hidden" name="{name}" value="{html.escape(query[name][0])}">'
                for name in ("SAMLRequest", "RelayState")
                if name in query
            )
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [
                page(
                    "<h1>Sign in to the test SAML IdP</h1>"
                    f'<form method="post" action="/sso/login">{fields}'
                    '<label for="login">Username</label> <input id="login" name="login">'
                    '<label for="password">Password</label> '
                    '<input id="password" name="password" type="password">'
                    '<button type="submit">Sign in</button></form>'
                )
            ]
        if path == "/sso/login" and environ["REQUEST_METHOD"] == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            form = {
                k: v[0] for k, v in parse_qs(environ["wsgi.input"].read(length).decode()).items()
            }
            with open(accounts_file) as handle:
                account = json.load(handle).get(form.get("login", ""))
            if not account or account["password"] != form.get("password"):
                start_response("401 Unauthorized", [("Content-Type", "text/html; charset=utf-8")])
                return [page('<p role="alert">Wrong username or password.</p>')]
            request = server.parse_authn_request(form["SAMLRequest"], BINDING_HTTP_REDIRECT).message
            acs_url = request.assertion_consumer_service_url
            response = server.create_authn_response(
                identity=account["attributes"],
                in_response_to=request.id,
                destination=acs_url,
                sp_entity_id=request.issuer.text,
                name_id=NameID(
                    format=NAMEID_FORMAT_PERSISTENT, text=account["attributes"]["uid"][0]
                ),
                authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"},
                sign_assertion=account.get("sign", True),
                sign_response=False,
                # SHA-1 is refused by the console (reject_deprecated_algorithm).
                sign_alg="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                digest_alg="http://www.w3.org/2001/04/xmlenc#sha256",
            )
            import base64

            encoded = base64.b64encode(str(response).encode()).decode()
            relay = form.get("RelayState", "")
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [
                page(
                    f'<form method="post" action="{html.escape(acs_url)}" id="saml-response">'
                    f'<input type="hidden" name="SAMLResponse" value="{encoded}">'
                    f'<input type="hidden" name="RelayState" value="{html.escape(relay)}">'
                    '<button type="submit">Continue</button></form>'
                )
            ]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    return app


def main(config_path: str) -> None:
    from saml2.config import IdPConfig
    from saml2.server import Server

    with open(config_path) as handle:
        config = json.load(handle)
    httpd = make_server("127.0.0.1", 0, lambda e, s: [], handler_class=QuietHandler)
    base_url = f"http://127.0.0.1:{httpd.server_port}"

    class TestServer(Server):
        def has_encrypt_cert_in_metadata(self, sp_entity_id):
            # The IdP holds no SP metadata (it answers the ACS URL of the
            # request) and encrypts nothing.
            return False

    idp = IdPConfig()
    idp.load(idp_config(base_url, config["key_file"], config["cert_file"]))
    server = TestServer(config=idp)
    httpd.set_app(make_app(server, config["accounts_file"]))
    print(json.dumps({"base_url": base_url, "entity_id": f"{base_url}/metadata"}), flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1])
