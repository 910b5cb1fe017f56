// Shared by the tablet and the client page: calls to the JSON API with the CSRF token.
"use strict";
const csrfToken = () => (document.querySelector('meta[name="csrf"]') || {}).content || "";

async function api(method, path, body) {
  const opts = { method, headers: { "X-CSRF-Token": csrfToken(), "Accept": "application/json" },
                 credentials: "same-origin" };
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  let response;
  try { response = await fetch(path, opts); }
  catch (e) { return { ok: false, status: 0, detail: "The room does not answer. Check the network." }; }
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const detail = typeof data === "object" && data ? data.detail : String(data);
    return { ok: false, status: response.status, detail: typeof detail === "string" ? detail : JSON.stringify(detail) };
  }
  return { ok: true, status: response.status, data };
}

function say(text, bad) {
  const el = document.getElementById("status");
  if (!el) return;
  el.textContent = text;
  el.classList.toggle("bad", !!bad);
}

function hmm(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const sign = seconds < 0 ? "-" : "";
  const s = Math.abs(Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return `${sign}${h}:${String(m).padStart(2, "0")}`;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}
