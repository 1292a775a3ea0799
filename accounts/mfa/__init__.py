"""Second factor (MFA) with django-otp: TOTP authenticator apps, one-time
recovery codes, and (when installed) WebAuthn security keys and passkeys.

- ``policy``: who must use a second factor, who has one, ``reset_mfa``;
- ``middleware``: nothing but the verify/enrol pages between password and
  second factor;
- ``views``/``forms``/``urls``: the pages under ``/account/mfa/``;
- ``events``: what happened, for the audit log (a signal and a log line).

See docs/mfa.md.
"""
