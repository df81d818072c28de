// rtpd's HTTP face: copy buttons, and the live figures refreshed every two
// seconds from /live.json. The page works without this script.
"use strict";

function humanSize(n) {
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  if (n < 1024) return n + " B";
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
  return n.toFixed(1) + " " + units[i];
}

async function copy(button) {
  const text = button.dataset.copy;
  try {
    await navigator.clipboard.writeText(text);
  } catch (e) {
    // No clipboard API (plain HTTP on another host): copy through a selection.
    const area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  const label = button.textContent;
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = label; }, 1500);
}

function set(id, text) {
  const el = document.getElementById(id);
  if (el) el.textContent = text;
}

async function refresh() {
  try {
    const r = await fetch("/live.json", { cache: "no-store" });
    if (!r.ok) return;
    const v = await r.json();
    set("sessions", v.sessions_total);
    for (const t of ["tcp", "tls", "quic"]) set("sessions-" + t, v.sessions[t] || 0);
    set("inflight", v.reads_in_flight);
    set("served", humanSize(v.bytes_served));
    set("served-http", humanSize(v.http_bytes_served));
    set("rate", v.bytes_per_second < 0 ? "–" : humanSize(Math.round(v.bytes_per_second)) + "/s");
    set("hashing", v.hashing ? "hashing new files…" : "up to date");
    document.body.dataset.live = v.time;
  } catch (e) {
    // The server went away; try again at the next tick.
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const b of document.querySelectorAll("button.copy")) {
    b.hidden = false;
    b.addEventListener("click", () => copy(b));
  }
  if (document.getElementById("live")) {
    refresh();
    setInterval(refresh, 2000);
  }
});
