"""The SAML IdP of the tests (saml_idp.py) as a session fixture: a
self-signed signing certificate made here, the IdP in its own process."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.directory_support.oidc import _read_line
from tests.services import require

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_ID = "corp"
PROVIDER_NAME = "Corporate SSO"
PASSWORD = "saml-password-1"


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-saml-idp")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = folder / "idp.key", folder / "idp.crt"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


@dataclass
class SamlIdp:
    base_url: str
    entity_id: str
    accounts_file: Path

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/metadata"

    def set_account(self, login: str, *, groups, email=None, sign=True) -> None:
        accounts = json.loads(self.accounts_file.read_text())
        # Sent under their OID names (urn:oid:…), as Shibboleth and most IdPs do.
        attributes = {"uid": [f"uid-{login}"], "groups": list(groups)}
        if email:
            attributes["mail"] = [email]
        accounts[login] = {"password": PASSWORD, "attributes": attributes, "sign": sign}
        self.accounts_file.write_text(json.dumps(accounts))


@pytest.fixture(scope="session")
def saml_idp(tmp_path_factory):
    require(shutil.which("xmlsec1") is not None, "xmlsec1 (Debian package xmlsec1)")
    try:
        import saml2  # noqa: F401
    except ImportError:
        require(False, "pysaml2 (the dev extra)")
    folder = tmp_path_factory.mktemp("saml-idp")
    key_file, cert_file = self_signed(folder)
    accounts_file = folder / "accounts.json"
    accounts_file.write_text("{}")
    config = folder / "config.json"
    config.write_text(
        json.dumps(
            {
                "key_file": str(key_file),
                "cert_file": str(cert_file),
                "accounts_file": str(accounts_file),
            }
        )
    )
    log = (folder / "idp.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.directory_support.saml_idp", str(config)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=ROOT,
    )
    try:
        line = _read_line(process.stdout, timeout=30)
        if not line:
            process.kill()
            log.flush()
            pytest.fail(f"The SAML IdP did not start: {(folder / 'idp.log').read_text()}")
        started = json.loads(line)
        yield SamlIdp(started["base_url"], started["entity_id"], accounts_file)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def use_idp(settings, idp: SamlIdp, **overrides) -> None:
    """Point the console at the test IdP through its metadata (as
    SSO_SAML_CORP_METADATA_FILE would), with no OIDC provider."""
    import requests

    from accounts.sso.config import idp_from_metadata, providers_setting, saml_app

    metadata = requests.get(idp.metadata_url, timeout=10).text
    app = saml_app(
        PROVIDER_ID, name=PROVIDER_NAME, idp=idp_from_metadata(metadata, idp.entity_id), **overrides
    )
    settings.SOCIALACCOUNT_PROVIDERS = providers_setting([], [app])
