// The metaxy page: feature list with search, the lineage DAG, a feature's details, a sample lookup.
// Plain browser JavaScript over the JSON API of the same server; the location hash keeps the view
// (#feature=video/raw, #lookup=sample_uid=42) so a link opens the same page.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { states: new Map(), positions: new Map(), view: null, selected: null };

function apiKey() { return localStorage.getItem("metaxy-api-key") || ""; }

async function api(path) {
  const headers = apiKey() ? { "X-API-Key": apiKey() } : {};
  const response = await fetch(path, { headers });
  const body = await response.json();
  if (response.status === 401) {
    $("key-form").hidden = false;
  }
  if (!response.ok) {
    const e = body.error || {};
    throw new Error(`${e.message || response.statusText}${e.hint ? " " + e.hint : ""}`);
  }
  return body;
}

function text(tag, content, cls) {
  const node = document.createElement(tag);
  node.textContent = content;
  if (cls) node.className = cls;
  return node;
}

function badge(value) { return text("span", value, `badge ${value}`); }

function table(headers, rows) {
  const t = document.createElement("table");
  const head = t.createTHead().insertRow();
  headers.forEach((h) => head.appendChild(text("th", h)));
  const body = t.createTBody();
  rows.forEach((r) => {
    const tr = body.insertRow();
    r.forEach((cell) => {
      const td = tr.insertCell();
      if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell == null ? "-" : String(cell);
    });
  });
  return t;
}

function showError(error) {
  $("error").hidden = false;
  $("error").textContent = String(error.message || error);
}

async function loadFeatures() {
  const q = $("search").value.trim();
  const page = await api(`/api/features?limit=500${q ? "&q=" + encodeURIComponent(q) : ""}`);
  $("feature-count").textContent = `${page.total} feature${page.total === 1 ? "" : "s"}${q ? " matching" : ""}`;
  const list = $("feature-list");
  list.replaceChildren();
  page.items.forEach((f) => {
    const li = document.createElement("li");
    li.dataset.key = f.key;
    li.appendChild(text("span", f.key, "feature-key"));
    li.appendChild(badge(state.states.get(f.key) || "unknown"));
    if (f.key === state.selected) li.classList.add("selected");
    li.addEventListener("click", () => { location.hash = "feature=" + f.key; });
    list.appendChild(li);
  });
}

async function loadGraph() {
  const graph = await api("/api/graph");
  state.positions = DAG.draw($("dag"), graph, state.states, (key) => { location.hash = "feature=" + key; });
  state.view.fit();
}

async function loadStatus() {
  const status = await api("/api/status");
  $("store-name").textContent = `store ${status.store}`;
  const sync = $("sync");
  sync.textContent = status.in_sync ? "in sync" : "work to do";
  sync.className = `badge ${status.in_sync ? "in-sync" : "to-do"}`;
  state.states = new Map(status.features.map((f) => [f.feature, f.state]));
  return status;
}

async function showFeature(key) {
  state.selected = key;
  document.querySelectorAll("#feature-list li").forEach((li) => li.classList.toggle("selected", li.dataset.key === key));
  document.querySelectorAll("#dag .node").forEach((n) => n.classList.toggle("selected", n.dataset.key === key));
  if (state.positions.has(key)) state.view.center(state.positions.get(key));
  const f = await api("/api/features/" + key.split("/").map(encodeURIComponent).join("/"));
  const panel = $("feature-panel");
  panel.hidden = false;
  panel.replaceChildren();
  const title = text("h2", f.key);
  title.id = "feature-title";
  title.appendChild(document.createTextNode(" "));
  title.appendChild(badge(f.status.state));
  panel.appendChild(title);
  if (f.description) panel.appendChild(text("p", f.description));
  panel.appendChild(text("p", `feature version ${f.feature_version} · ids ${f.id_columns.join(", ")} · columns ${f.columns.join(", ") || "-"}`, "muted"));
  panel.appendChild(table(["field", "code version", "version", "depends on"],
    f.fields.map((x) => [x.key, x.code_version, x.version, x.parents.join(", ") || "-"])));
  panel.appendChild(table(["upstream", "lineage", "optional"], f.deps.map((d) => [d.feature, d.lineage, d.optional ? "yes" : "no"])));
  panel.appendChild(text("p", `downstream: ${f.downstream.join(", ") || "-"}`, "muted"));
  const s = f.status, st = f.stats;
  panel.appendChild(table(["stored", "new", "stale", "orphaned", "rows (history)", "versions", "last materialized"],
    [[s.stored, s.new, s.stale, s.orphaned, st.rows, st.versions, st.last_materialized_at]]));
  if (f.stored_schema) {
    panel.appendChild(table(["stored column", "type"], Object.entries(f.stored_schema)));
  }
}

function parseIds(textValue) {
  const ids = new URLSearchParams();
  textValue.split(/[,&]/).map((p) => p.trim()).filter(Boolean).forEach((pair) => {
    const at = pair.indexOf("=");
    if (at > 0) ids.append(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
  });
  return ids;
}

async function lookup(textValue) {
  $("lookup-ids").value = textValue;
  const out = $("lookup-result");
  out.replaceChildren();
  const ids = parseIds(textValue);
  if (![...ids.keys()].length) { out.appendChild(text("p", "Write ids as column=value.", "error")); return; }
  try {
    const result = await api("/api/lookup?" + ids.toString());
    out.appendChild(table(["feature", "sample", "status", "why", "stale fields", "stored version", "updated"],
      result.features.map((f) => [f.feature, JSON.stringify(f.sample), badge(f.status),
        f.reason || f.error_message, (f.stale_fields || []).join(", "), f.feature_version, f.updated_at])));
    out.firstChild.id = "lookup-table";
  } catch (error) {
    out.appendChild(text("p", String(error.message), "error"));
  }
}

async function route() {
  const hash = decodeURIComponent(location.hash.slice(1));
  if (hash.startsWith("feature=")) await showFeature(hash.slice(8));
  else if (hash.startsWith("lookup=")) await lookup(hash.slice(7));
}

async function start() {
  state.view = DAG.panZoom($("dag"));
  $("fit").addEventListener("click", () => state.view.fit());
  $("search").addEventListener("input", () => loadFeatures().catch(showError));
  $("lookup-form").addEventListener("submit", (e) => { e.preventDefault(); location.hash = "lookup=" + $("lookup-ids").value; });
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    localStorage.setItem("metaxy-api-key", $("key-input").value);
    location.reload();
  });
  window.addEventListener("hashchange", () => route().catch(showError));
  try {
    await loadStatus();
    await Promise.all([loadFeatures(), loadGraph()]);
    await route();
    document.body.dataset.ready = "true";
  } catch (error) {
    showError(error);
    document.body.dataset.ready = "error";
  }
}

start();
