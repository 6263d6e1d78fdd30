// roomkey dashboard: the page's own script (no inline scripts: the CSP allows 'self' only).
// Local times, copy buttons, the one-time sign-in link, and a room page's live updates.
(function () {
  "use strict";

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // ---- times in the reader's own zone -------------------------------------------------------
  function localTimes(root) {
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      const when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) return;
      el.title = el.textContent;
      el.textContent = when.toLocaleString(undefined, {
        year: "numeric", month: "short", day: "numeric",
        hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
      });
      el.removeAttribute("data-local");
    });
  }

  // ---- copy buttons -----------------------------------------------------------------------------
  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const text = "value" in source ? source.value : source.textContent;
    const label = button.textContent;
    navigator.clipboard.writeText(text).then(
      function () { button.textContent = "Copied"; },
      function () { button.textContent = "Select and copy by hand"; }
    );
    setTimeout(function () { button.textContent = label; }, 2000);
  });

  // ---- the one-time sign-in link: its code is in the fragment, never sent in a URL ------------
  function signInWithLink() {
    const form = document.getElementById("link-form");
    const match = /^#link=([A-Za-z0-9_-]+)$/.exec(window.location.hash);
    if (!form || !match) return;
    history.replaceState(null, "", window.location.pathname + window.location.search);
    form.querySelector('input[name="code"]').value = match[1];
    form.submit();
  }

  // ---- a room page, live over the room's event WebSocket ---------------------------------------
  function roomLive(status) {
    const log = document.getElementById("event-log");
    let lastSeq = null;
    let retries = 0;

    function say(text) { status.textContent = text; }

    function note(event) {
      const item = document.createElement("li");
      const who = event.identity || (event.participant && event.participant.identity) || "";
      item.textContent = new Date((event.at || Date.now() / 1000) * 1000).toLocaleTimeString() +
        " " + event.type.replace(/_/g, " ") + (who ? ": " + who : "");
      log.prepend(item);
      while (log.children.length > 100) log.lastChild.remove();
    }

    function refreshLists() {
      fetch(status.dataset.lists, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
        .then(function (answer) {
          if (answer.redirected || answer.status === 204) { window.location.reload(); return null; }
          return answer.ok ? answer.text() : null;
        })
        .then(function (html) {
          if (html === null) return;
          const live = document.getElementById("live");
          live.innerHTML = html;  // the server's own escaped fragment
          if (window.htmx) window.htmx.process(live);
          localTimes(live);
        });
    }

    function connect() {
      fetch(status.dataset.watch, {
        method: "POST",
        headers: { "X-CSRF-Token": csrfToken() },
        credentials: "same-origin",
      })
        .then(function (answer) {
          if (!answer.ok) throw new Error("the server refused a watch token (" + answer.status + ")");
          return answer.json();
        })
        .then(function (body) { open(body.token); })
        .catch(function (error) { say("Live updates stopped: " + error.message); });
    }

    function open(token) {
      const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      const since = lastSeq === null ? "" : "?since=" + lastSeq;
      const socket = new WebSocket(scheme + window.location.host + status.dataset.events + since);
      socket.onopen = function () {
        // the credential goes in the first message: URLs end up in logs
        socket.send(JSON.stringify({ type: "auth", token: token }));
      };
      socket.onmessage = function (message) {
        const event = JSON.parse(message.data);
        if (event.type === "error") { say("Live updates refused: " + event.message); return; }
        if (typeof event.seq === "number") lastSeq = event.seq;
        if (typeof event.last_seq === "number") lastSeq = event.last_seq;
        if (event.type === "ready" || event.type === "resync" || event.type === "snapshot") {
          retries = 0;
          say("Live: updates arrive as they happen.");
          refreshLists();
          return;
        }
        retries = 0;
        say("Live: updates arrive as they happen.");
        note(event);
        refreshLists();
      };
      socket.onclose = function (closed) {
        if (closed.code === 4403 || closed.code === 4401) {
          say("Live updates stopped: " + (closed.reason || "not allowed"));
          return;
        }
        retries += 1;
        const wait = Math.min(30, 2 ** retries);
        say("Connection lost; reconnecting in " + wait + " s.");
        setTimeout(connect, wait * 1000);
      };
    }

    say("Connecting…");
    connect();
  }

  function start() {
    localTimes(document);
    signInWithLink();
    window.addEventListener("hashchange", signInWithLink);  // a link opened over the page
    const live = document.querySelector("[data-room-live]");
    if (live) roomLive(live);
    document.body.addEventListener("htmx:afterSwap", function (event) {
      localTimes(event.target);
      const created = event.target.querySelector && event.target.querySelector("#created-panel");
      if (created) created.focus();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
