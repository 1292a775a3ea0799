"""A real OpenID Connect provider for the tests: node's ``oidc-provider``
(package.json devDependencies, installed by ``make``) running
``oidc_provider.mjs`` on a free loopback port, one per test session (per
xdist worker).

The test side makes the RS256 signing key, so a test can also sign ID tokens
of its own with the provider's real key (wrong audience, expired) — and with
another key under the same ``kid`` (bad signature). Clients and accounts are
JSON files the provider reads at every use: ``register_client`` and
``set_account`` change them while it runs.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.services import require

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("oidc_provider.mjs")
PACKAGE = ROOT / "node_modules" / "oidc-provider" / "package.json"
PROVIDER_ID = "test-idp"
PROVIDER_NAME = "Test IdP"
CLIENT_ID = "rustronaut-console"
CLIENT_SECRET = "console-client-secret-for-tests-0123456789"
OTHER_CLIENT_ID = "another-application"
PASSWORD = "idp-password-1"


def new_key(kid: str | None = None) -> tuple[rsa.RSAPrivateKey, dict]:
    """An RSA key and its private JWK (RS256, signing)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key, as_dict=True)
    jwk.update(kid=kid or uuid.uuid4().hex, use="sig", alg="RS256")
    return key, jwk


def callback_url(base_url: str, provider_id: str = PROVIDER_ID) -> str:
    return f"{base_url.rstrip('/')}/accounts/oidc/{provider_id}/login/callback/"


@dataclass
class OidcProvider:
    issuer: str
    key: rsa.RSAPrivateKey
    kid: str
    clients_file: Path
    accounts_file: Path
    process: subprocess.Popen
    clients: dict = field(default_factory=dict)

    def register_client(self, client_id: str, secret: str, redirect_uris: list[str]) -> None:
        self.clients[client_id] = {
            "client_id": client_id,
            "client_secret": secret,
            "redirect_uris": sorted(set(redirect_uris)),
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_post",
        }
        self.clients_file.write_text(json.dumps(self.clients))

    def allow_redirect(self, url: str, client_id: str = CLIENT_ID) -> None:
        client = self.clients[client_id]
        self.register_client(client_id, client["client_secret"], [*client["redirect_uris"], url])

    def set_account(self, login: str, **claims) -> dict:
        """Create or replace ``login`` at the provider (password ``PASSWORD``);
        its subject stays the same across calls."""
        accounts = json.loads(self.accounts_file.read_text())
        sub = accounts.get(login, {}).get("sub") or f"sub-{login}-{uuid.uuid4().hex[:8]}"
        accounts[login] = {"sub": sub, "password": PASSWORD, "claims": claims}
        self.accounts_file.write_text(json.dumps(accounts))
        return accounts[login]

    def sign(self, claims: dict, *, key=None, kid: str | None = None) -> str:
        """An ID token signed with the provider's key (or ``key``)."""
        return jwt.encode(
            claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid}
        )


def _read_line(stream, timeout: float) -> str:
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return ""


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    node = shutil.which("node")
    require(node is not None, "Node.js (node)")
    require(PACKAGE.exists(), "the npm package oidc-provider (run make)")
    folder = tmp_path_factory.mktemp("oidc-provider")
    key, jwk = new_key()
    clients_file, accounts_file = folder / "clients.json", folder / "accounts.json"
    clients_file.write_text("{}")
    accounts_file.write_text("{}")
    config = folder / "config.json"
    config.write_text(
        json.dumps(
            {
                "jwks": {"keys": [jwk]},
                "clients_file": str(clients_file),
                "accounts_file": str(accounts_file),
            }
        )
    )
    log = (folder / "provider.log").open("w")
    process = subprocess.Popen(
        [node, str(SCRIPT), str(config)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NODE_ENV": "test"},
    )
    try:
        line = _read_line(process.stdout, timeout=30)
        if not line:
            process.kill()
            log.flush()
            pytest.fail(f"oidc-provider did not start: {(folder / 'provider.log').read_text()}")
        provider = OidcProvider(
            issuer=json.loads(line)["issuer"],
            key=key,
            kid=jwk["kid"],
            clients_file=clients_file,
            accounts_file=accounts_file,
            process=process,
        )
        provider.register_client(CLIENT_ID, CLIENT_SECRET, [callback_url("http://testserver")])
        provider.register_client(
            OTHER_CLIENT_ID, "other-client-secret-0123456789", ["http://127.0.0.1/cb"]
        )
        yield provider
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def use_provider(settings, provider: OidcProvider, **app_overrides) -> None:
    """Point the console at the test provider (as SSO_OIDC_* would), with no
    SAML provider."""
    from accounts.sso.config import oidc_app, providers_setting

    options = {
        "name": PROVIDER_NAME,
        "issuer": provider.issuer,
        "client_id": CLIENT_ID,
        "secret": CLIENT_SECRET,
    }
    options.update(app_overrides)
    settings.SOCIALACCOUNT_PROVIDERS = providers_setting([oidc_app(PROVIDER_ID, **options)], [])


def id_token_claims(provider: OidcProvider, sub: str, nonce: str, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "iss": provider.issuer,
        "sub": sub,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "nonce": nonce,
    }
    claims.update(overrides)
    return claims
