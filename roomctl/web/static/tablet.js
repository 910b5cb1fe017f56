// The facilitator's tablet: live state by Server-Sent Events, commands by fetch.
"use strict";
const config = JSON.parse(document.getElementById("config").textContent);
let state = null, arcs = {}, eventsSeen = -1;
const $ = (id) => document.getElementById(id);

async function command(path, body, label) {
  say(`${label}…`);
  const r = await api("POST", `/api/${path}`, body);
  if (!r.ok) { say(`${label}: ${r.detail}`, true); return null; }
  if (r.data && r.data.recorded === false) {
    say(`${label}: done in the room, not recorded yet (${r.data.error}). roomctl keeps trying.`, true);
  } else { say(`${label}: done`); }
  if (r.data && r.data.state) render(r.data.state);
  return r.data;
}

// ---- emergency: one tap; clearing asks to confirm, inline (never a dialog)
$("emergency").addEventListener("click", () => command("session/emergency", undefined, "Emergency"));
$("clear").addEventListener("click", () => { $("clear-confirm").hidden = false; $("clear").hidden = true; });
$("clear-no").addEventListener("click", () => { $("clear-confirm").hidden = true; $("clear").hidden = false; });
$("clear-yes").addEventListener("click", async () => {
  $("clear-confirm").hidden = true; $("clear").hidden = false;
  await command("session/clear-emergency", undefined, "Clear emergency");
});

// ---- session commands
for (const cue of config.cues) {
  const name = cue === "check-in" ? "Check-in" : cue[0].toUpperCase() + cue.slice(1);
  const b = el("button", { type: "button", text: name });
  b.addEventListener("click", () => command("session/cue", { cue }, name));
  $("cues").append(b);
}
const off = el("button", { type: "button", text: "Cue off" });
off.addEventListener("click", () => command("session/cue-off", undefined, "Cue off"));
$("cues").append(off);
document.querySelectorAll("button[data-cmd]").forEach((b) => b.addEventListener("click", () =>
  command(`session/${b.dataset.cmd}`, b.dataset.body ? JSON.parse(b.dataset.body) : undefined, b.textContent)));
// ---- scene quick picks: one tap applies (as manual overrides in the session)
let applied = null;  // {name, over}: the scene tapped here, shown pressed while the arc's scene stays `over`
for (const s of config.scenes) {
  const b = el("button", { type: "button", text: s.title, "data-scene": s.name, "aria-pressed": "false" });
  b.addEventListener("click", async () => {
    const r = await command(`scenes/${encodeURIComponent(s.name)}/apply`, undefined, s.title);
    if (r) { applied = { name: s.name, over: r.state.scene }; markScene(r.state); }
  });
  $("scenes").append(b);
}
function markScene(s) {
  if (applied && (!s.session || s.scene !== applied.over)) applied = null;
  const active = applied ? applied.name : s.scene;
  for (const b of $("scenes").children) b.setAttribute("aria-pressed", String(b.dataset.scene === active));
}

// ---- jump to a phase: choose, confirm on the page, then jump
$("jump").addEventListener("click", () => {
  const phase = $("jump-phase").value;
  if (!phase) { say("Choose a phase first.", true); return; }
  $("jump-yes").textContent = `Yes, jump to ${phase.replace(/-/g, " ")}`;
  $("jump-confirm").hidden = false; $("jump").hidden = true;
});
const closeJump = () => { $("jump-confirm").hidden = true; $("jump").hidden = false; };
$("jump-no").addEventListener("click", closeJump);
$("jump-yes").addEventListener("click", async () => {
  const phase = $("jump-phase").value;
  closeJump();
  await command("session/jump", { phase }, `Jump to ${phase.replace(/-/g, " ")}`);
});
function fillPhases(sess) {
  const box = $("jump-phase"), names = sess ? sess.phases : [];
  if (box.dataset.arc !== (sess ? sess.id : "")) {
    box.dataset.arc = sess ? sess.id : "";
    box.replaceChildren(...names.map((n) => el("option", { value: n, text: n.replace(/-/g, " ") })));
    if (sess) box.value = sess.next_phase || sess.phase;
  }
  for (const o of box.options) o.textContent = o.value.replace(/-/g, " ") + (sess && o.value === sess.phase ? " (now)" : "");
}
$("volume").max = String(config.max_volume);
$("volume").addEventListener("input", () => { $("volume-out").textContent = $("volume").value; });
$("temperature").min = String(config.temperature_c[0]);
$("temperature").max = String(config.temperature_c[1]);
$("set-room").addEventListener("click", async () => {
  for (const device of config.speakers)
    await command("session/set", { device, channel: "volume", value: Number($("volume").value), until: "session" }, "Volume");
  const t = $("temperature").value;
  if (t !== "") for (const device of config.thermostats)
    await command("session/set", { device, channel: "setpoint_c", value: Number(t), until: "session" }, "Temperature");
});
$("add-note").addEventListener("click", async () => {
  const text = $("note").value.trim();
  if (!text) { say("Write the note first.", true); return; }
  if (await command("session/note", { text }, "Note")) $("note").value = "";
});
$("end").addEventListener("click", () => { $("end-yes").hidden = false; });
$("end-yes").addEventListener("click", async () => { $("end-yes").hidden = true; await command("session/end", undefined, "End session"); });

// ---- starting a session, clients and their links
async function loadChoices() {
  const [clients, arcList] = await Promise.all([api("GET", "/api/clients"), api("GET", "/api/arcs")]);
  const select = $("client");
  select.replaceChildren(el("option", { value: "", text: "no client (no preferences)" }));
  if (clients.ok) for (const c of clients.data) select.append(el("option", { value: c.id, text: c.label ? `${c.id} · ${c.label}` : c.id }));
  $("arc-choice").replaceChildren();
  if (arcList.ok) for (const a of arcList.data) { arcs[a.name] = a; $("arc-choice").append(el("option", { value: a.name, text: a.title })); }
}
// T0 on the room's session clock: its time now (read fresh) less how long ago the dose was.
async function doseTime() {
  const when = $("dose-when").value;
  if (when === "planned") return { ok: true, t0: null };
  let agoS = 0;
  if (when === "ago") {
    const minutes = Number($("dose-ago").value);
    if ($("dose-ago").value === "" || !Number.isFinite(minutes) || minutes < 0 || minutes > 720)
      return { ok: false, detail: "Minutes ago: give a number from 0 to 720." };
    agoS = minutes * 60;
  } else if (when === "at") {
    const [h, m] = ($("dose-at").value || "").split(":").map(Number);
    if (!Number.isFinite(h) || !Number.isFinite(m)) return { ok: false, detail: "Time of the dose: choose a time." };
    const at = new Date(); at.setHours(h, m, 0, 0);
    agoS = (Date.now() - at.getTime()) / 1000;
    if (agoS < -60) return { ok: false, detail: "Time of the dose is later than now: choose \"Not yet\" and tap Dose given when it is." };
    agoS = Math.max(0, agoS);
  }
  const now = await api("GET", "/api/state");
  if (!now.ok) return now;
  return { ok: true, t0: now.data.at - agoS };
}
const showDose = () => {
  $("dose-ago-box").hidden = $("dose-when").value !== "ago";
  $("dose-at-box").hidden = $("dose-when").value !== "at";
};
$("dose-when").addEventListener("change", showDose);
$("start").addEventListener("click", async () => {
  const dose = await doseTime();
  if (!dose.ok) { say(`Start: ${dose.detail}`, true); return; }
  const body = { arc: $("arc-choice").value, client_id: $("client").value || null };
  if (dose.t0 !== null) body.t0 = dose.t0;
  say("Starting…");
  const r = await api("POST", "/api/sessions", body);
  if (!r.ok) { say(`Start: ${r.detail}`, true); return; }
  say("Session started"); render(r.data);
});
$("new-client").addEventListener("click", async () => {
  const r = await api("POST", "/api/clients", {});
  if (!r.ok) { say(`New client: ${r.detail}`, true); return; }
  await loadChoices(); $("client").value = r.data.id; say(`Client ${r.data.id} added`);
});
$("client-link").addEventListener("click", async () => {
  const id = $("client").value;
  if (!id) { say("Choose a client first.", true); return; }
  const r = await api("POST", `/api/clients/${encodeURIComponent(id)}/link`);
  if (!r.ok) { say(`Client link: ${r.detail}`, true); return; }
  const box = $("link-box"); box.hidden = false;
  box.innerHTML = r.data.qr_svg;  // made by roomctl (segno), not user input
  box.append(el("p", {}, el("a", { href: r.data.url, text: r.data.url })));
});

// ---- drawing the state
function drawArc(s) {
  const svg = $("arc"), arc = s && arcs[s.arc];
  svg.replaceChildren();
  if (!arc) return;
  const last = arc.phases[arc.phases.length - 1];
  const end = last.start_s + (last.duration_s || 3600);
  const x = (t) => 1000 * (t - arc.starts_at_s) / (end - arc.starts_at_s);
  const ns = "http://www.w3.org/2000/svg";
  arc.phases.forEach((p, i) => {
    const r = document.createElementNS(ns, "rect");
    const x0 = x(p.start_s), x1 = x(p.start_s + (p.duration_s || 3600));
    Object.entries({ x: x0, y: 10, width: Math.max(1, x1 - x0 - 2), height: 40, rx: 4,
      fill: i === s.phase_index ? "#3b2f22" : "#1f1b17" }).forEach(([k, v]) => r.setAttribute(k, v));
    const t = document.createElementNS(ns, "title"); t.textContent = p.name; r.append(t);
    svg.append(r);
  });
  const now = document.createElementNS(ns, "rect");
  const nx = Math.min(999, Math.max(0, x(s.since_t0_s)));
  Object.entries({ x: nx - 2, y: 2, width: 4, height: 56, fill: "#c89b5e" }).forEach(([k, v]) => now.setAttribute(k, v));
  svg.append(now);
}

async function loadLog(s) {
  const count = s ? s.id + (state ? state.at : 0) : "";
  if (!s) { $("log").replaceChildren(); eventsSeen = -1; return; }
  const r = await api("GET", "/api/session/events");
  if (!r.ok) return;
  const shown = r.data.filter((e) => ["cue_on", "cue_off", "note", "emergency_on", "emergency_clear", "hold", "resume", "advance", "step_back", "extend", "dose", "mark"].includes(e.kind));
  if (shown.length === eventsSeen) return;
  eventsSeen = shown.length;
  const t0 = s.started_at;
  $("log").replaceChildren(...shown.slice(-30).reverse().map((e) => el("li", {
    text: `${new Date(e.at * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })} ${e.kind.replace("_", " ")}${e.data.cue ? " " + e.data.cue : ""}${e.data.text ? ": " + e.data.text : ""} (${e.by})` })));
  void count; void t0;
}

function render(s) {
  state = s;
  $("room-name").textContent = s.room_name + (s.temperature_c === null ? "" : ` · ${s.temperature_c.toFixed(1)} °C`);
  const sess = s.session && !s.session.ended ? s.session : null;
  document.body.classList.toggle("emergency-on", s.emergency);
  $("clear-box").hidden = !s.emergency;
  $("running").hidden = !sess; $("starting").hidden = !!sess;
  if (sess) {
    let phase = sess.phase.replace(/-/g, " ");
    if (sess.cue) phase += ` · ${sess.cue}`;
    if (sess.held) phase += " · held";
    if (s.emergency) phase = "EMERGENCY · " + phase;
    $("phase").textContent = phase;
    $("since").textContent = `${hmm(sess.since_t0_s)} from T0`;
    $("next").textContent = sess.next_phase ? `${sess.next_phase} in ${hmm(sess.to_next_phase_s)}` : "–";
  } else {
    $("phase").textContent = s.emergency ? "EMERGENCY" : "No session";
    $("since").textContent = "–"; $("next").textContent = "–";
  }
  drawArc(sess);
  fillPhases(sess);
  markScene(s);
  if (s.session) {
    const base = `/api/sessions/${encodeURIComponent(s.session.id)}`;
    $("record-view").href = `${base}/record.html`;
    $("record-html").href = `${base}/record.html?download=true`;
    $("record-json").href = `${base}/record.json`;
    $("record-client").href = `${base}/record.html?client_copy=true&download=true`;
  }
  $("record-links").hidden = !s.session;
  loadLog(sess);
  $("alerts").replaceChildren(...s.alerts.map((a) => el("p", { class: "alert", role: "alert", text: a.message })));
  $("devices").replaceChildren(...s.devices.map((d) => {
    const reported = d.reported ? shows(d.reported) : "not read yet";
    return el("li", { "data-device": d.id },
      el("span", {}, el("span", { class: d.available ? "dot" : "dot down", "aria-hidden": "true" }),
        `${d.id}${d.available ? "" : " — not answering"}`),
      el("span", { class: "muted", text: reported }));
  }));
  document.dispatchEvent(new CustomEvent("roomstate", { detail: s }));  // music.js
}

// What a device shows, in the words a facilitator reads at a glance.
function shows(r) {
  const round = (v) => Math.round(v);
  if ("setpoint_c" in r) return r.setpoint_c === null ? "" : `set to ${r.setpoint_c} °C`;
  if ("volume" in r) {
    const music = r.source === null || r.source === "silence" ? "paused" : String(r.source).replace(/^favorite:/, "");
    return r.volume === null ? music : `${music} · volume ${r.volume}`;
  }
  if (r.on === false) return "off";
  const parts = [];
  if (r.brightness_pct !== null && r.brightness_pct !== undefined) parts.push(`${round(r.brightness_pct)} %`);
  if (r.color_temp_k) parts.push(`${round(r.color_temp_k)} K`);
  else if (r.hue !== null && r.hue !== undefined) parts.push(`hue ${round(r.hue)}°`);
  return parts.length ? parts.join(" · ") : "on";
}

function connect() {
  const source = new EventSource("/api/stream");
  source.addEventListener("state", (e) => render(JSON.parse(e.data)));
  source.onerror = () => say("Reconnecting to the room…", true);
  source.onopen = () => { if ($("status").textContent.startsWith("Reconnecting")) say("Connected"); };
}
loadChoices().then(connect);
