"""Single sign-on (docs/directory.md): OpenID Connect and SAML 2.0 through
django-allauth, with the console's rules in ``adapter.py``."""
