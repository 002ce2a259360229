/**
 * The flow view's page, style and script (served by `flow-view.ts`, nothing from elsewhere): the
 * signal log (newest request first, an `aria-live` list), then one section per machine with its
 * statechart; the script follows the view's server-sent events, adds each signal as it comes and
 * moves the highlight (`.am-current` on the chart's `.am-state` groups).
 */
import type { FlowViewState } from "./flow-view.ts";

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** How a state reads in words: its value, and the status when the flow is over. */
export function describeState(state: Pick<FlowViewState, "value" | "status">): string {
  const value = typeof state.value === "string" ? state.value : JSON.stringify(state.value);
  return `${value} (${state.status === "active" ? "pending" : state.status})`;
}

export function flowViewPage(
  basePath: string,
  charts: ReadonlyArray<{ readonly slug: string; readonly svg: string }>,
  flows: ReadonlyMap<string, FlowViewState>,
): string {
  const base = escapeHtml(basePath);
  const nav = charts.map(({ slug }) => `<li><a href="#machine-${escapeHtml(slug)}">${escapeHtml(slug)}</a></li>`).join("");
  const sections = charts
    .map(({ slug, svg }) => {
      const id = escapeHtml(slug);
      const state = flows.get(slug);
      const now = state === undefined ? "no flow yet" : describeState(state);
      return `<section class="am-machine" id="machine-${id}" data-machine="${id}" aria-labelledby="machine-${id}-heading">
<h3 id="machine-${id}-heading">${id}</h3>
<p class="am-now">Last flow: <span class="am-now-value">${escapeHtml(now)}</span></p>
<div class="am-chart" role="group" aria-label="Statechart of the ${id} machine, scrolls sideways" tabindex="0">${svg}</div>
</section>`;
    })
    .join("\n");
  return `<!doctype html>
<html lang="en" data-base="${base}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Flow view · authmachines</title>
<link rel="icon" href="${base}/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${base}/view.css">
<script src="${base}/view.js" defer></script>
</head>
<body>
<header>
<h1>Flow view</h1>
<p>A development tool: every signal the flows emit, and where each machine's latest flow is. Never mount it in production.</p>
<p id="am-connection" role="status">Connecting to the signal stream…</p>
</header>
<main>
<section class="am-signals" aria-labelledby="am-signals-heading">
<h2 id="am-signals-heading">Signals</h2>
<p>Newest request first; each request's signals in the order they were emitted.</p>
<p id="am-empty">No signal yet.</p>
<ol id="am-log" class="am-log" aria-live="polite" aria-relevant="additions"></ol>
</section>
<section class="am-machines" aria-labelledby="am-machines-heading">
<h2 id="am-machines-heading">Machines</h2>
<nav aria-label="Machines"><ul class="am-nav">${nav}</ul></nav>
${sections}
</section>
</main>
</body>
</html>
`;
}

/** The tab's icon: two states and a transition. */
export const flowViewIcon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect x="2" y="4" width="12" height="10" rx="3" fill="#fde68a" stroke="#b45309" stroke-width="2"/><rect x="18" y="18" width="12" height="10" rx="3" fill="#f8fafc" stroke="#475569" stroke-width="2"/><path d="M14 9h6v9" fill="none" stroke="#475569" stroke-width="2"/></svg>`;

export const flowViewStyle = `:root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #0f172a; background: #ffffff; }
body { margin: 0 auto; padding: 1rem; max-width: 72rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.3rem; margin: 1.5rem 0 .5rem; }
h3 { font-size: 1.05rem; margin: 0 0 .25rem; overflow-wrap: anywhere; }
a { color: #1d4ed8; }
#am-connection { color: #334155; }
.am-log { list-style: none; padding: 0; margin: 0; }
.am-request { border: 1px solid #cbd5e1; border-radius: .5rem; padding: .75rem; margin: 0 0 .75rem; }
.am-request-meta { color: #334155; margin: 0 0 .5rem; overflow-wrap: anywhere; }
.am-signal-list { margin: 0; padding-left: 1.25rem; }
.am-signal-name { font-family: ui-monospace, Menlo, Consolas, monospace; }
.am-signal pre { background: #f1f5f9; padding: .5rem; border-radius: .25rem; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; font-size: .8rem; margin: .25rem 0 .5rem; }
.am-nav { display: flex; flex-wrap: wrap; gap: .25rem .75rem; padding: 0; list-style: none; }
.am-machine { border-top: 1px solid #cbd5e1; padding: 1rem 0; }
.am-machine.am-recent h3::after { content: " · latest"; color: #92400e; font-weight: normal; }
.am-now { margin: 0 0 .5rem; overflow-wrap: anywhere; }
.am-now-value { font-family: ui-monospace, Menlo, Consolas, monospace; font-weight: 600; }
.am-chart { overflow-x: auto; max-width: 100%; border: 1px solid #e2e8f0; border-radius: .25rem; }
.am-chart:focus-visible { outline: 3px solid #1d4ed8; outline-offset: 2px; }
.am-chart svg { display: block; max-width: none; height: auto; }
.am-state.am-current > .am-state-box { stroke: #b45309; stroke-width: 3; }
.am-state.am-current.am-leaf > .am-state-box { fill: #fde68a; }
@media (max-width: 40rem) { body { padding: .5rem; } }
`;

export const flowViewScript = `"use strict";
(() => {
  const base = document.documentElement.dataset.base;
  const log = document.getElementById("am-log");
  const empty = document.getElementById("am-empty");
  const connection = document.getElementById("am-connection");
  const groups = new Map();
  let lastSignal = 0;

  const element = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const groupOf = (request) => {
    let list = groups.get(request.n);
    if (list === undefined) {
      const item = element("li", "am-request");
      item.dataset.request = String(request.n);
      const user = request.userId === null ? "anonymous" : "user " + request.userId;
      item.append(
        element("h3", "", "Request " + request.n + ": " + request.method + " " + request.path),
        element("p", "am-request-meta", request.client + " client · " + request.ip + " · " + user),
      );
      list = element("ol", "am-signal-list");
      item.append(list);
      log.prepend(item);
      groups.set(request.n, list);
      empty.hidden = true;
    }
    return list;
  };

  const source = new EventSource(base + "/events");
  source.addEventListener("open", () => {
    connection.textContent = "Live: signals appear as they are emitted.";
  });
  source.addEventListener("error", () => {
    connection.textContent = "Disconnected from the signal stream; retrying…";
  });
  source.addEventListener("signal", (message) => {
    const signal = JSON.parse(message.data);
    if (signal.seq <= lastSignal) return;
    lastSignal = signal.seq;
    const item = element("li", "am-signal");
    item.dataset.signal = signal.name;
    item.append(element("strong", "am-signal-name", signal.name), element("pre", "", JSON.stringify(signal.payload, null, 2)));
    groupOf(signal.request).append(item);
  });
  source.addEventListener("flow", (message) => {
    const flow = JSON.parse(message.data);
    const section = document.querySelector('section.am-machine[data-machine="' + CSS.escape(flow.machine) + '"]');
    if (section === null) return;
    for (const node of section.querySelectorAll(".am-state.am-current")) node.classList.remove("am-current", "am-leaf");
    for (const id of flow.stateIds) {
      const node = section.querySelector('.am-state[data-state="' + CSS.escape(id) + '"]');
      if (node === null) continue;
      node.classList.add("am-current");
      if (!flow.stateIds.some((other) => other.startsWith(id + "."))) node.classList.add("am-leaf");
    }
    const value = typeof flow.value === "string" ? flow.value : JSON.stringify(flow.value);
    section.querySelector(".am-now-value").textContent = value + " (" + (flow.status === "active" ? "pending" : flow.status) + ")";
    for (const other of document.querySelectorAll(".am-machine.am-recent")) other.classList.remove("am-recent");
    section.classList.add("am-recent");
  });
})();
`;
