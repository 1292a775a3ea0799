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
    root.querySelectorAll(".toast:not(.toast-error):not([data-scheduled])").forEach(function (toast) {
      toast.dataset.scheduled = "1";
      setTimeout(function () { dismiss(toast); }, 6000);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { scheduleToasts(document); });

  // ---- Live updates (docs/live.md) -------------------------------------------
  // The body's socket (htmx ws extension) receives server-rendered fragments and
  // swaps them in out of band. This keeps the indicator in the top bar, reconnects
  // with backoff and jitter, re-fetches the page's live elements after a gap, and
  // falls back to polling them when websockets cannot connect at all.
  var POLL_VISIBLE_MS = 15000;
  var POLL_HIDDEN_MS = 60000;
  var FALLBACK_AFTER = 3;  // failed attempts in a row before polling
  var HINT_DELAY_MS = 1000;
  var labels = {
    connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…",
    offline: "Offline", paused: "Live updates paused"
  };
  var titles = {
    paused: "Live updates are paused: the page refreshes itself every few seconds until they are back."
  };
  function setLive(state) {
    var el = document.getElementById("live-status");
    if (!el) return;
    el.dataset.state = state;
    el.querySelector(".live-label").textContent = labels[state];
    el.title = titles[state] || "Live updates: " + labels[state];
  }

  // Exponential backoff, full jitter, capped at 30 s (never a thundering herd
  // of tabs reconnecting in the same second after a restart).
  function reconnectDelay(retry) {
    return 250 + Math.random() * Math.min(30000, 1000 * Math.pow(2, retry));
  }
  if (window.htmx) htmx.config.wsReconnectDelay = reconnectDelay;

  // Re-fetch the page as it is now and replace each live element
  // ([data-live-refresh] with an id) by its fresh copy: the same templates, so
  // nothing missed while disconnected stays stale.
  var fetching = null;
  function refetch(selector) {
    var targets = document.querySelectorAll(selector || "[data-live-refresh]");
    if (!targets.length) return Promise.resolve();
    if (fetching && !selector) return fetching;
    var request = fetch(window.location.href, {
      credentials: "same-origin",
      headers: { "X-Live-Refresh": "1" }
    }).then(function (response) {
      if (response.redirected && new URL(response.url).pathname !== window.location.pathname) {
        window.location.reload();  // signed out meanwhile: the sign-in page
        return;
      }
      if (!response.ok) return;
      return response.text().then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        targets.forEach(function (el) {
          var copy = el.id && fresh.getElementById(el.id);
          if (!copy || !el.isConnected) return;
          var bases = newBarBases(el);
          el.replaceWith(copy);
          if (window.htmx) htmx.process(copy);
          showNewBars(copy, bases);
        });
        var status = document.getElementById("live-status");
        if (status) status.dataset.refreshed = String(Date.now());
        document.dispatchEvent(new CustomEvent("live:refreshed"));
      });
    }).catch(function () { /* the next attempt will tell */ }).then(function () {
      if (!selector) fetching = null;
    });
    if (!selector) fetching = request;
    return request;
  }

  // "N new events" bars ([data-live-new-on], with an id): a page that does not
  // show new rows where they arrive (an older page, another order) re-fetches
  // only the bar, whose data-live-count is the list's count as the server has
  // it now; the difference to the count when the list was shown is N. The
  // first count is kept across re-fetches of the element holding the bar.
  function newBarBases(root) {
    var bases = {};
    var bars = root.matches && root.matches("[data-live-new-on]") ? [root] : [];
    bars = bars.concat(Array.prototype.slice.call(root.querySelectorAll("[data-live-new-on]")));
    bars.forEach(function (bar) {
      if (bar.id) bases[bar.id] = { base: bar.dataset.liveBase, hinted: bar.dataset.liveHinted };
    });
    return bases;
  }
  function showNewBars(root, bases) {
    var bars = root.matches && root.matches("[data-live-new-on]") ? [root] : [];
    bars = bars.concat(Array.prototype.slice.call(root.querySelectorAll("[data-live-new-on]")));
    bars.forEach(function (bar) {
      var kept = bases && bases[bar.id];
      if (kept && kept.hinted) bar.dataset.liveHinted = kept.hinted;
      var base = kept && kept.base !== undefined ? kept.base : bar.dataset.liveBase;
      if (base === undefined) base = bar.dataset.liveCount;
      bar.dataset.liveBase = base;
      var added = Number(bar.dataset.liveCount) - Number(base);
      var label = bar.querySelector(".live-new-label");
      // Beyond the count's cap the number is unknown: say "new events" once
      // the server hinted at some (the count changed, or cannot change).
      var capped = bar.hasAttribute("data-live-capped") && bar.dataset.liveHinted === "1";
      if (added > 0 && label) {
        label.textContent = added === 1 ? label.dataset.one : label.dataset.many.replace("__N__", added);
      } else if (capped && label) {
        label.textContent = label.dataset.some;
      }
      bar.hidden = !(added > 0 || capped);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { showNewBars(document); });
  document.addEventListener("htmx:afterSettle", function () { showNewBars(document); });

  // Hints: a gateway changed, so counters over gateways (which depend on the
  // user's scope) re-fetch themselves, once for a burst. A hint with
  // data-live-rows (an object created or deleted) also re-fetches the table of
  // a list of that topic: where a new row goes depends on its sort and page.
  var hintTimers = {};
  var hintRows = {};
  function listsTopic(topic) {
    var watch = new URL(document.body.getAttribute("ws-connect") || "/", window.location.href)
      .searchParams.getAll("watch").join(",").split(",");
    return watch.indexOf(topic) >= 0;
  }
  function hint(topic, rows) {
    if (rows) hintRows[topic] = true;
    if (hintTimers[topic]) return;
    hintTimers[topic] = setTimeout(function () {
      delete hintTimers[topic];
      var name = topic.replace(/"/g, "");
      var selectors = ['[data-live-refresh-on~="' + name + '"]', '[data-live-new-on~="' + name + '"]'];
      if (hintRows[topic] && listsTopic(topic)) selectors.push("#object-table[data-live-refresh]");
      delete hintRows[topic];
      document.querySelectorAll('[data-live-new-on~="' + name + '"]').forEach(function (bar) {
        bar.dataset.liveHinted = "1";
      });
      refetch(selectors.join(", "));
    }, HINT_DELAY_MS);
  }

  // Fragments the page does not show are dropped before htmx sees them.
  if (window.htmx) {
    htmx.defineExtension("live", {
      transformResponse: function (text, xhr) {
        if (xhr) return text;  // an ordinary htmx request, not the socket
        var template = document.createElement("template");
        template.innerHTML = text;
        Array.prototype.slice.call(template.content.children).forEach(function (child) {
          var topic = child.getAttribute("data-live-hint");
          if (topic) { hint(topic, child.hasAttribute("data-live-rows")); child.remove(); return; }
          var oob = child.getAttribute("hx-swap-oob") || "";
          var colon = oob.indexOf(":");
          var shown = colon >= 0
            ? document.querySelector(oob.slice(colon + 1))
            : child.id && document.getElementById(child.id);
          if (!shown) child.remove();
        });
        return template.innerHTML;
      }
    });
  }

  // Tell the server which list rows the page shows: fragments of other rows
  // are not sent (only their hint, to pages with counters over the topic). Sent when the socket opens
  // and whenever the rows change (a sort, a page, a re-fetch).
  var socket = null;
  var shownSent = null;
  function sendShown() {
    if (!socket) return;
    var ids = Array.prototype.map.call(document.querySelectorAll('[id^="row-"]'), function (el) {
      return el.id;
    });
    // Topics whose hints the page uses (counters, "new" bars): a changed row
    // the page does not show is only worth a hint to those.
    var hints = {};
    document.querySelectorAll("[data-live-refresh-on], [data-live-new-on]").forEach(function (el) {
      var names = (el.getAttribute("data-live-refresh-on") || "") + " " + (el.getAttribute("data-live-new-on") || "");
      names.split(/\s+/).forEach(function (name) { if (name) hints[name] = true; });
    });
    var message = JSON.stringify({ show: ids, hints: Object.keys(hints).sort() });
    if (message === shownSent) return;
    shownSent = message;
    socket.send(message);
  }
  document.addEventListener("htmx:afterSettle", sendShown);
  document.addEventListener("live:refreshed", sendShown);

  var pollTimer = null;
  function poll() {
    pollTimer = setTimeout(function () {
      refetch().then(function () { if (pollTimer) poll(); });
    }, document.hidden ? POLL_HIDDEN_MS : POLL_VISIBLE_MS);
  }
  function startPolling() { if (!pollTimer) poll(); }
  function stopPolling() { clearTimeout(pollTimer); pollTimer = null; }

  var everOpened = false;
  var failures = 0;  // closes in a row without an open socket in between
  var RELOAD_KEY = "rc-live-reload";
  document.addEventListener("htmx:wsConnecting", function () {
    if (!everOpened) setLive("connecting");
    else if (failures < FALLBACK_AFTER) setLive("reconnecting");
  });
  document.addEventListener("htmx:wsOpen", function (event) {
    socket = event.detail && event.detail.socketWrapper;
    shownSent = null;
    sendShown();
    if (everOpened || pollTimer) refetch();  // what changed while disconnected
    everOpened = true;
    failures = 0;
    stopPolling();
    setLive("live");
  });
  document.addEventListener("htmx:wsClose", function (event) {
    socket = null;
    var detail = event.detail || {};
    var code = detail.event ? detail.event.code : 0;
    if (code === 4401 || code === 4403) {
      // Signed out, or what the user may see changed: the page again (or the
      // sign-in page). Not twice within seconds, should the server keep refusing.
      var last = 0;
      try { last = Number(sessionStorage.getItem(RELOAD_KEY) || 0); } catch (e) { /* private mode */ }
      if (Date.now() - last > 10000) {
        try { sessionStorage.setItem(RELOAD_KEY, String(Date.now())); } catch (e) { /* private mode */ }
        window.location.reload();
        return;
      }
    }
    failures += 1;
    if (!navigator.onLine) setLive("offline");
    else if (failures >= FALLBACK_AFTER) { setLive("paused"); startPolling(); }
    else setLive("reconnecting");
    // The extension retries by itself after an abnormal close (1006, 1011-1013);
    // after any other (the server closing cleanly, a refused session) we do.
    var wrapper = detail.socketWrapper;
    if (wrapper && [1006, 1011, 1012, 1013].indexOf(code) < 0 && code !== 4401 && code !== 4403) {
      setTimeout(function () { wrapper.reconnect(); }, reconnectDelay(failures));
    }
  });
  window.addEventListener("offline", function () { setLive("offline"); });
  window.addEventListener("online", function () { if (!everOpened || failures) setLive("reconnecting"); });

  // Back to a tab that was hidden: its fragments may be old (the browser may
  // have throttled or suspended the socket), so fetch them again.
  var hiddenAt = 0;
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { hiddenAt = Date.now(); return; }
    if (hiddenAt && Date.now() - hiddenAt > 5000) refetch();
    if (pollTimer) { stopPolling(); poll(); }
  });

  // Toasts pushed by the server (console.live.notify) leave like the others.
  document.addEventListener("htmx:wsAfterMessage", function () {
    var toasts = document.getElementById("toasts");
    if (toasts) scheduleToasts(toasts);
  });
})();
