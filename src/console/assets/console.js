// imreceipts console: live regions and confirmations. No framework, no build step.
"use strict";

// An element with data-live="<url>" is refreshed from that URL (an HTML fragment rendered by
// the server) every data-every milliseconds while the tab is visible. A session that ended
// shows as a redirect to the sign-in page: then the whole page reloads into it.
function startLive(el) {
  const every = Number(el.dataset.every || 2000);
  let last = null;
  async function tick() {
    if (document.visibilityState === "visible") {
      try {
        const r = await fetch(el.dataset.live, { credentials: "same-origin", headers: { Accept: "text/html" } });
        if (r.redirected && r.url.includes("/console/sign-in")) {
          location.reload();
          return;
        }
        if (r.ok) {
          const html = await r.text();
          if (html !== last) {
            // Keep keyboard focus where it was when the region is redrawn.
            const focused = document.activeElement && el.contains(document.activeElement) ? document.activeElement.id : null;
            el.innerHTML = html;
            last = html;
            if (focused) {
              const again = document.getElementById(focused);
              if (again) again.focus();
            }
          }
          el.dataset.refreshed = String(Date.now());
        }
      } catch (e) {
        // Server restarting or network away: try again next tick.
      }
    }
    setTimeout(tick, every);
  }
  setTimeout(tick, every);
}

document.querySelectorAll("[data-live]").forEach(startLive);

document.querySelectorAll("form[data-confirm]").forEach((f) =>
  f.addEventListener("submit", (e) => {
    if (!window.confirm(f.dataset.confirm)) e.preventDefault();
  })
);
