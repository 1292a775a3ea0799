// Rustronaut Console — small behaviours on top of htmx. Pages work without it.
(function () {
  "use strict";

  // Theme: follows the system until the user picks one; remembered per browser.
  function toggleTheme() {
    var root = document.documentElement;
    var dark = root.dataset.theme
      ? root.dataset.theme === "dark"
      : window.matchMedia("(prefers-color-scheme: dark)").matches;
    root.dataset.theme = dark ? "light" : "dark";
    try { localStorage.setItem("rc-theme", root.dataset.theme); } catch (e) { /* private mode */ }
  }

  function toggleNav(button) {
    var open = document.body.classList.toggle("nav-open");
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  function dismiss(toast) {
    toast.classList.add("leaving");
    setTimeout(function () { toast.remove(); }, 260);
  }

  // Copy a secret (enrolment token, agent command). Without the clipboard API
  // (plain http, older browsers) the text is selected for the user to copy.
  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  function copyText(button) {
    var source = document.querySelector(button.dataset.copyTarget);
    if (!source) return;
    var label = button.querySelector(".copy-label");
    var original = label ? label.textContent : "";
    function show(text, ok) {
      if (label) label.textContent = text;
      button.classList.toggle("copied", ok);
      setTimeout(function () {
        if (label) label.textContent = original;
        button.classList.remove("copied");
      }, 2500);
    }
    function fallback() {
      selectText(source);
      show(button.dataset.fallbackLabel || "Press Ctrl+C to copy", false);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        show(button.dataset.copiedLabel || "Copied", true);
      }, fallback);
    } else {
      fallback();
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-action]");
    if (target) {
      var action = target.dataset.action;
      if (action === "toggle-theme") toggleTheme();
      else if (action === "toggle-nav") toggleNav(target);
      else if (action === "dismiss") dismiss(target.closest(".toast"));
      else if (action === "copy") copyText(target);
    }
    // Close open dropdowns when clicking elsewhere.
    document.querySelectorAll("details[open]").forEach(function (d) {
      if (!d.contains(event.target)) d.removeAttribute("open");
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details[open]").forEach(function (d) {
      d.removeAttribute("open");
      var summary = d.querySelector("summary");
      if (summary) summary.focus();
    });
    document.body.classList.remove("nav-open");
    document.querySelectorAll("[data-action=toggle-nav]").forEach(function (b) { b.setAttribute("aria-expanded", "false"); });
  });

  // Toasts leave by themselves, errors stay until dismissed.
  function scheduleToasts(root) {
    root.querySelectorAll(".toast:not(.toast-error)").forEach(function (toast) {
      setTimeout(function () { dismiss(toast); }, 6000);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { scheduleToasts(document); });

  // Connection indicator for the live channel (htmx websocket extension).
  var labels = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline" };
  function setLive(state) {
    var el = document.getElementById("live-status");
    if (!el) return;
    el.dataset.state = state;
    el.querySelector(".live-label").textContent = labels[state];
    el.title = "Live updates: " + labels[state];
  }
  var everOpened = false;
  document.addEventListener("htmx:wsConnecting", function () { setLive(everOpened ? "reconnecting" : "connecting"); });
  document.addEventListener("htmx:wsOpen", function () {
    if (everOpened) {
      // Refresh what may have changed while disconnected.
      document.querySelectorAll("[data-live-refresh]").forEach(function (el) { htmx.trigger(el, "live:refresh"); });
    }
    everOpened = true;
    setLive("live");
  });
  document.addEventListener("htmx:wsClose", function (event) {
    var code = event.detail && event.detail.event ? event.detail.event.code : 0;
    if (code === 4401) { window.location.reload(); return; }  // signed out: go to login
    setLive(navigator.onLine ? "reconnecting" : "offline");
  });
  document.addEventListener("htmx:wsError", function () { setLive(navigator.onLine ? "reconnecting" : "offline"); });
  window.addEventListener("offline", function () { setLive("offline"); });
})();
