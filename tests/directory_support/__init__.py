"""Real directory and identity providers for the directory/SSO tests
(docs/directory.md): slapd, an OpenID Connect provider, a SAML IdP."""
