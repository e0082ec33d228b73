// The dashboard page: namespaces, their MCIS with live status (the MCIS's server-sent event
// stream), the chosen MCIS's VMs, its world map, its auto-control policy, and links to every
// workflow in the Temporal UI. Reads the native API only (same origin: the browser sends the
// HTTP Basic credentials it was given for the page). The choice lives in the URL's hash
// (#ns=NS&mcis=NAME), so a view can be bookmarked.

import { RTT_BANDS, STATUS_COLOURS, WorldMap, cloudColour, statusColour } from "./worldmap.js";

const LIST_EVERY_MS = 10000;
const POLICY_EVERY_MS = 5000;
const VIEW_EVERY_MS = 15000;
const SAMPLES_SHOWN = 20;
const DECISIONS_SHOWN = 10;

const state = { ns: null, mcis: null, config: null, events: null, following: null, refreshing: null };
let worldMap = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(typeof child === "object" ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

// replaceChildren, leaving out the parts a view does not have (null)
function fill(node, ...children) {
  node.replaceChildren(...children.filter((child) => child !== null && child !== undefined));
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path) {
  const answer = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new ApiError(answer.status, body.message ?? `${path}: HTTP ${answer.status}`);
  return body;
}

const failures = new Map(); // what failed at its last refresh, by part
const PARTS = {
  config: "settings",
  countries: "country shapes",
  showNamespaces: "namespaces",
  showMcisList: "MCIS list",
  showMcis: "MCIS status",
  showMap: "map",
  showPolicy: "policy",
};

function showFailures() {
  const banner = document.getElementById("errors");
  banner.replaceChildren(...[...failures].map(([part, message]) => el("p", {}, `${PARTS[part] ?? part}: ${message}`)));
  banner.hidden = failures.size === 0;
}

function temporalLink(workflowId, text) {
  if (!state.config) return el("span", {}, text);
  const { temporal_ui_port: port, temporal_namespace: namespace } = state.config;
  const base = `${location.protocol}//${location.hostname}:${port}`;
  const href = `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return el("a", { href, target: "_blank", rel: "noopener", class: "temporal-link", "data-workflow-id": workflowId }, text);
}

function statusBadge(label, text = label) {
  const badge = el("span", { class: "status-badge", "data-status": label }, text);
  badge.style.background = statusColour(label);
  return badge;
}

// the choice, in the URL's hash

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  state.ns = params.get("ns");
  state.mcis = params.get("mcis");
}

function choose(ns, mcis) {
  const params = new URLSearchParams();
  if (ns) params.set("ns", ns);
  if (mcis) params.set("mcis", mcis);
  location.hash = params.toString();
}

// namespaces and MCIS

async function showNamespaces() {
  const namespaces = await api("/v1/ns");
  if (!namespaces.some((ns) => ns.name === state.ns)) {
    state.ns = namespaces.length ? namespaces[0].name : null;
  }
  const nav = document.getElementById("namespaces");
  nav.replaceChildren(
    ...namespaces.map((ns) =>
      el(
        "button",
        { type: "button", class: ns.name === state.ns ? "ns current" : "ns", "data-namespace": ns.name, title: ns.description },
        ns.name,
      ),
    ),
  );
  for (const button of nav.querySelectorAll("button")) {
    button.addEventListener("click", () => choose(button.dataset.namespace, null));
  }
  if (!namespaces.length) nav.append(el("span", { class: "empty" }, "no namespace yet: `mcis ns create NAME`"));
}

async function showMcisList() {
  const list = document.getElementById("mcis-list");
  if (!state.ns) {
    list.replaceChildren();
    return;
  }
  const items = await api(`/v1/ns/${encodeURIComponent(state.ns)}/mcis`);
  if (!items.some((item) => item.name === state.mcis)) {
    // none chosen yet, or the chosen one is gone (deleted): the first one, if any
    state.mcis = items.length ? items[0].name : null;
  }
  follow();
  list.replaceChildren(
    ...items.map((item) => {
      const entry = el(
        "li",
        { class: item.name === state.mcis ? "mcis current" : "mcis", "data-mcis": item.name },
        el("button", { type: "button", class: "mcis-name" }, item.name),
        statusBadge(item.status, `${item.status} (${item.total})`),
        el("div", { class: "mcis-meta" }, `${item.phase}`, item.description ? ` · ${item.description}` : ""),
        temporalLink(`mcis/${state.ns}/${item.name}`, "workflow"),
      );
      entry.querySelector("button").addEventListener("click", () => choose(state.ns, item.name));
      return entry;
    }),
  );
  if (!items.length) list.append(el("li", { class: "empty" }, "no MCIS in this namespace"));
}

// the chosen MCIS

function showMcisStatus(view) {
  const status = document.getElementById("mcis-status");
  fill(
    status,
    el("h2", {}, `${view.namespace}/${view.name}`),
    statusBadge(view.status, view.display),
    el("span", { class: "phase" }, view.phase),
    view.target_action && view.target_action !== "None"
      ? el("span", { class: "target" }, `${view.target_action} → ${view.target_status}`)
      : null,
    view.operation ? el("span", { class: "operation" }, `${view.operation.kind} ${view.operation.state}`) : null,
    temporalLink(`mcis/${view.namespace}/${view.name}`, "MCIS workflow in Temporal"),
  );
  status.dataset.mcis = view.name;
  status.dataset.status = view.status;
  status.dataset.total = String(view.total);
}

function showVms(view) {
  const body = document.querySelector("#vms tbody");
  body.replaceChildren(
    ...view.vms.map((vm) =>
      el(
        "tr",
        { class: "vm", "data-vm": vm.id, "data-status": vm.status },
        el("td", {}, vm.id),
        el("td", {}, vm.group),
        el("td", {}, el("span", { class: "cloud-dot", style: `background:${cloudColour(vm.provider)}` }), vm.provider),
        el("td", {}, vm.region),
        el("td", {}, statusBadge(vm.status)),
        el("td", { class: "native" }, vm.native_status ?? ""),
        el("td", {}, vm.public_ip ?? ""),
        el("td", {}, vm.private_ip ?? ""),
        el("td", { class: "vm-error" }, vm.error ?? ""),
      ),
    ),
  );
  const note = document.getElementById("vms-note");
  note.textContent = view.vms_listed
    ? `${view.total} VMs`
    : `${view.total} VMs: too many to list here (${Object.entries(view.counts).map(([s, n]) => `${s} ${n}`).join(", ")}); \`mcis status\` lists them all`;
}

async function showMap() {
  const path = state.mcis
    ? `/v1/ns/${encodeURIComponent(state.ns)}/mcis/${encodeURIComponent(state.mcis)}/map`
    : state.ns
      ? `/v1/ns/${encodeURIComponent(state.ns)}/map`
      : "/v1/map";
  const answer = await api(path);
  const unplaced = worldMap.show(answer);
  const clouds = Object.entries(answer.clouds).map(([c, n]) => `${c} ${n}`).join(", ");
  const measured = answer.links.filter((l) => l.source !== "estimated").length;
  document.getElementById("map-summary").textContent =
    `${answer.vms} VMs in ${answer.regions.length} regions (${clouds || "none"}); ` +
    `${answer.links.length} region pairs, ${measured} with a measured or configured RTT` +
    (unplaced.length ? `; not placed: ${unplaced.join(", ")}` : "") +
    answer.warnings.map((warning) => `; ${warning}`).join("");
}

function sparkline(values) {
  const width = 160;
  const height = 28;
  const top = Math.max(100, ...values);
  const points = values
    .map((v, i) => `${((i / Math.max(1, values.length - 1)) * width).toFixed(1)},${(height - (v / top) * height).toFixed(1)}`)
    .join(" ");
  const chart = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  chart.setAttribute("class", "sparkline");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points);
  chart.append(line);
  return chart;
}

async function showPolicy() {
  const panel = document.getElementById("policy");
  if (!state.mcis) {
    panel.replaceChildren();
    return;
  }
  let view;
  try {
    view = await api(`/v1/ns/${encodeURIComponent(state.ns)}/mcis/${encodeURIComponent(state.mcis)}/policy`);
  } catch (error) {
    // 4xx: none runs for this MCIS (the answer says so); anything else is a failure
    if (!(error.status >= 400 && error.status < 500)) throw error;
    panel.replaceChildren(el("p", { class: "empty", "data-policy": "none" }, `${error.message} (\`mcis policy create\`)`));
    return;
  }
  const samples = Object.entries(view.samples).map(([metric, values]) => {
    const recent = values.slice(-SAMPLES_SHOWN);
    return el(
      "tr",
      { "data-metric": metric },
      el("th", {}, metric),
      el("td", {}, sparkline(recent)),
      el("td", { class: "samples", "data-count": recent.length }, recent.map((v) => Number(v).toFixed(1)).join(" ")),
    );
  });
  const decisions = view.decisions.slice(-DECISIONS_SHOWN).reverse().map((d) =>
    el(
      "tr",
      { class: "decision", "data-seq": d.seq },
      el("td", {}, d.seq),
      el("td", {}, new Date(d.at).toLocaleTimeString()),
      el("td", {}, d.condition),
      el("td", {}, `${d.action.kind} ${d.count}`),
      el("td", {}, d.outcome || "in progress"),
    ),
  );
  fill(
    panel,
    el(
      "p",
      { class: "policy-state", "data-state": view.state },
      statusBadge(view.state),
      view.paused ? el("span", { class: "paused" }, "paused") : null,
      ` ${view.checks} checks, VMs ${view.policy.min_vms}–${view.policy.max_vms}, every ${view.policy.sample_interval_s} s `,
      temporalLink(`policy/${view.namespace}/${view.mcis}`, "policy workflow in Temporal"),
    ),
    view.ended ? el("p", { class: "ended" }, `ended: ${view.ended}`) : null,
    view.last_error ? el("p", { class: "vm-error" }, `last error: ${view.last_error}`) : null,
    el("h3", {}, "Recent samples"),
    samples.length ? el("table", { class: "samples" }, el("tbody", {}, ...samples)) : el("p", { class: "empty" }, "no sample yet"),
    el("h3", {}, "Decisions"),
    decisions.length
      ? el(
          "table",
          { class: "decisions" },
          el("thead", {}, el("tr", {}, ...["#", "at", "condition", "action", "outcome"].map((h) => el("th", {}, h)))),
          el("tbody", {}, ...decisions),
        )
      : el("p", { class: "empty" }, "no decision yet"),
  );
}

async function showMcis() {
  const section = document.getElementById("mcis-detail");
  section.hidden = !state.mcis;
  if (!state.mcis) return;
  const view = await api(`/v1/ns/${encodeURIComponent(state.ns)}/mcis/${encodeURIComponent(state.mcis)}`);
  showMcisStatus(view);
  showVms(view);
}

// refreshing: each part on its own clock, the chosen MCIS's status and map on every event

async function refresh(parts) {
  for (const part of parts) {
    try {
      await part();
      failures.delete(part.name);
    } catch (error) {
      failures.set(part.name, error.message);
    }
  }
  showFailures();
}

function refreshSoon() {
  // events come in bursts (one per status change): the map and the list once per burst
  if (state.refreshing) return;
  state.refreshing = setTimeout(async () => {
    state.refreshing = null;
    await refresh([showMap, showMcisList]);
  }, 300);
}

// `event: status` carries the MCIS's status as `GET .../mcis/{name}` answers it; the stream
// ends after the status of the deleted MCIS, or with an `event: error` when its workflow ends.
function follow() {
  const key = state.mcis ? `${state.ns}/${state.mcis}` : null;
  if (key === state.following) return;
  state.following = key;
  state.events?.close();
  state.events = null;
  const live = document.getElementById("live");
  live.dataset.events = "0";
  if (!state.mcis) {
    live.textContent = "";
    return;
  }
  const path = `/v1/ns/${encodeURIComponent(state.ns)}/mcis/${encodeURIComponent(state.mcis)}/events`;
  const events = new EventSource(path);
  events.addEventListener("status", (message) => {
    const view = JSON.parse(message.data);
    live.dataset.events = String(Number(live.dataset.events) + 1);
    showMcisStatus(view);
    showVms(view);
    refreshSoon();
    if (view.phase === "deleted") {
      events.close();
      live.textContent = "deleted";
      live.className = "live off";
    }
  });
  events.addEventListener("open", () => {
    live.textContent = "live";
    live.className = "live on";
  });
  events.addEventListener("error", (message) => {
    // a server's `event: error` has data and ends the stream; a lost connection has none and
    // the browser reconnects by itself
    if (message.data) {
      events.close();
      live.textContent = JSON.parse(message.data).message ?? "stream ended";
    } else {
      live.textContent = "reconnecting";
    }
    live.className = "live off";
  });
  state.events = events;
}

function every(ms, parts) {
  setInterval(() => refresh(parts), ms);
}

async function start() {
  readHash();
  worldMap = new WorldMap(document.getElementById("map"));
  showLegend();
  await refresh([
    async function config() {
      state.config = await api("/dashboard/config");
    },
    async function countries() {
      const answer = await fetch("/dashboard/vendor/world-atlas/countries-110m.json");
      if (!answer.ok) {
        document.getElementById("map-note").textContent =
          "country shapes not installed (`make install` fetches them): regions are drawn on the grid alone";
        return;
      }
      worldMap.showCountries(await answer.json());
    },
    showNamespaces,
    showMcisList,
    showMcis,
    showMap,
    showPolicy,
  ]);
  follow();
  every(LIST_EVERY_MS, [showNamespaces, showMcisList]);
  every(VIEW_EVERY_MS, [showMcis, showMap]);
  every(POLICY_EVERY_MS, [showPolicy]);
  window.addEventListener("hashchange", async () => {
    readHash();
    await refresh([showNamespaces, showMcisList, showMcis, showMap, showPolicy]);
    follow();
  });
}

function showLegend() {
  const legend = document.getElementById("map-legend");
  const item = (colour, text, cls = "swatch") =>
    el("span", { class: "legend-item" }, el("span", { class: cls, style: `background:${colour}` }), text);
  legend.replaceChildren(
    el("span", { class: "legend-title" }, "status"),
    ...["Running", "Creating", "Suspended", "Terminated", "Failed", "Undefined"].map((s) => item(STATUS_COLOURS[s], s)),
    el("span", { class: "legend-title" }, "RTT"),
    ...RTT_BANDS.map(([, colour, text]) => item(colour, text, "bar")),
    el("span", { class: "legend-item" }, "lines: solid measured or configured, dashed estimated · ring: cloud"),
  );
}

start();
