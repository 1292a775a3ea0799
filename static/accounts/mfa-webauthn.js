// Two-factor authentication pages (templates/accounts/mfa): once
// django-otp-webauthn's script has registered a security key, post the form
// around its button, which names the key and goes on (recovery codes the
// first time). The key is saved (as "Security key") even if this never runs.
(function () {
  "use strict";
  document.addEventListener("otp_webauthn.register_complete", function () {
    var form = document.getElementById("security-key-form");
    if (form) form.submit();
  });
})();
