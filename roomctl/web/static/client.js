// The client's page: choose, try on the room's lights, see what the limits change, agree, save.
"use strict";
const clientId = document.querySelector("[data-client]").dataset.client;
const base = `/api/clients/${encodeURIComponent(clientId)}`;
const $ = (id) => document.getElementById(id);
let page = null, redraw = null;

function hsl(h) { return `hsl(${h} 70% 45%)`; }

function chips(box, items, checked, name, withTry) {
  box.replaceChildren(...items.map(([value, label, hue]) => {
    const id = `${name}-${value}`.replace(/[^a-z0-9-]/gi, "_");
    const input = el("input", { type: "checkbox", id, value });
    input.checked = checked.includes(value);
    input.addEventListener("change", changed);
    const parts = [input];
    if (hue !== undefined) parts.push(el("span", { class: "swatch", style: `background:${hsl(hue)}`, "aria-hidden": "true" }));
    parts.push(el("label", { for: id, text: label }));
    if (withTry) {
      const b = el("button", { type: "button", text: "Try it", "aria-label": `Try ${label}` });
      b.addEventListener("click", () => preview(hue, label));
      parts.push(b);
    }
    return el("span", { class: "chip" }, ...parts);
  }));
}

const picked = (box) => [...box.querySelectorAll("input:checked")].map((i) => i.value);

function choices() {
  const words = $("avoid-words").value.split(",").map((w) => w.trim()).filter(Boolean);
  const t = $("temperature").value;
  const prefs = {
    colors_liked: picked($("liked")), colors_avoided: picked($("avoided")),
    brightness_max_pct: Number($("brightness").value), darkness_limit_pct: Number($("darkness").value),
    music: { favorites: picked($("music")), avoid: words, quiet: $("quiet").checked, silence: $("silence").checked },
    volume_max: Number($("volume").value), eyeshades: $("eyeshades").checked, headphones: $("headphones").checked,
    language: $("language").value, notes: $("notes").value,
  };
  if (t !== "") prefs.temperature_c = Number(t);
  if (prefs.darkness_limit_pct > prefs.brightness_max_pct) prefs.darkness_limit_pct = prefs.brightness_max_pct;
  return prefs;
}

async function preview(hue, label) {
  say(`Showing ${label} on the room…`);
  const r = await api("POST", `${base}/preview`, { hue: hue === undefined ? null : hue, saturation: 80,
    brightness_pct: Math.min(40, Number($("brightness").value)), preferences: choices() });
  say(r.ok ? `${label} is on the lights for ${r.data.hold_s} s, then they fade back.` : r.detail, !r.ok);
}
$("try-dark").addEventListener("click", async () => {
  say("Showing how dark on the room…");
  const r = await api("POST", `${base}/preview`, { hue: null, brightness_pct: Math.max(1, Number($("darkness").value)), preferences: choices() });
  say(r.ok ? `That is the darkest the lights would be; they fade back after ${r.data.hold_s} s.` : r.detail, !r.ok);
});

$("play-sample").addEventListener("click", async () => {
  const prefs = choices();
  const chosen = prefs.music.favorites[0];
  const note = $("sample-note");
  note.textContent = "Starting the music in the room…";
  const r = await api("POST", `${base}/sample`, { volume: Number($("volume").value), preferences: prefs,
    ...(chosen ? { music: chosen } : {}) });
  note.textContent = r.ok ? `Playing ${r.data.music} at ${r.data.volume}. ${r.data.message}` : r.detail;
  note.classList.toggle("bad", !r.ok);
});

function changed() {
  clearTimeout(redraw);
  redraw = setTimeout(async () => {
    const prefs = choices();
    const o = await api("POST", `${base}/overrides`, prefs);
    if (o.ok) $("overrides").replaceChildren(...(o.data.length ? o.data : ["Nothing: the room follows every choice."]).map((s) => el("li", { text: s })));
    else $("overrides").replaceChildren(el("li", { text: o.detail }));
    const response = await fetch(`${base}/arc.svg`, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() }, body: JSON.stringify(prefs) });
    if (response.ok) {
      const img = el("img", { alt: "The arc with your choices", src: URL.createObjectURL(await response.blob()) });
      $("arc-picture").replaceChildren(img);
    }
  }, 600);
}

async function load() {
  const r = await api("GET", base);
  if (!r.ok) { say(r.detail, true); return; }
  page = r.data; const p = page.preferences;
  const colours = Object.entries(page.colors).map(([n, h]) => [n, n, h]);
  chips($("liked"), colours, p.colors_liked.filter((c) => typeof c === "string"), "liked", true);
  chips($("avoided"), colours, p.colors_avoided.filter((c) => typeof c === "string"), "avoided", false);
  chips($("music"), page.music.map((m) => [m.name, m.tags.length ? `${m.name} (${m.tags.join(", ")})` : m.name]), p.music.favorites, "music", false);
  $("brightness").value = p.brightness_max_pct; $("darkness").value = p.darkness_limit_pct;
  $("volume").value = p.volume_max; $("temperature").value = p.temperature_c ?? "";
  $("eyeshades").checked = p.eyeshades; $("headphones").checked = p.headphones;
  $("quiet").checked = p.music.quiet; $("silence").checked = p.music.silence;
  $("avoid-words").value = p.music.avoid.join(", "); $("notes").value = p.notes;
  $("language").replaceChildren(...Object.entries(page.languages).map(([k, v]) => el("option", { value: k, text: v })));
  $("language").value = p.language;
  $("consent-text").textContent = `I agree that these preferences are kept on this room's computer and used for: ${page.consent_scope}.`;
  if (page.session_running) say("A session is running in the room: trying colours and music waits until it ends.");
  for (const id of ["brightness", "darkness", "volume", "temperature", "eyeshades", "headphones", "quiet", "silence", "avoid-words", "notes", "language"])
    $(id).addEventListener("change", changed);
  changed();
}

$("prefs").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!$("consent").checked) { say("Please read the agreement and tick it first: nothing is kept without it.", true); return; }
  const r = await api("POST", `${base}/preferences`, { preferences: choices(), consent: true });
  if (!r.ok) { say(`Not saved: ${r.detail}`, true); return; }
  $("consent").checked = false;
  say(`Saved as version ${r.data.version}. Thank you.`);
});
load();
