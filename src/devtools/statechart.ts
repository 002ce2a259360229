/**
 * Draws a machine's statechart as a self-contained SVG, laid out by `elkjs` (an optional peer
 * dependency, imported only here).
 *
 * The drawing is deterministic (the same machine gives the same bytes) and made to be styled by
 * the page that shows it: every state is a `<g class="am-state" data-state="<StateNode.id>">`
 * whose first child is its `<rect class="am-state-box">`, children nested inside their parent's
 * group; every transition is a `<g class="am-transition" data-source data-target>`. Colours are
 * presentation attributes, so any page CSS (e.g. `[data-state="signup.idle"] > .am-state-box
 * { fill: … }`) wins over them. There are no ids, fonts, styles or scripts in it.
 */
import type { AnyStateMachine } from "xstate";
import type { ElkExtendedEdge, ElkNode } from "elkjs/lib/elk-api.js";
import { importOptional } from "../optional-package.ts";
import { statechartModel } from "./statechart-model.ts";
import type { StatechartEdge, StatechartModel, StatechartNode, TransitionLabel } from "./statechart-model.ts";

export { statechartModel } from "./statechart-model.ts";
export type { StatechartEdge, StatechartModel, StatechartNode, TransitionLabel } from "./statechart-model.ts";

const fontFamily = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', 'Liberation Mono', monospace";
const stateFont = 13;
const labelFont = 11;
/** A monospace glyph's advance is about 0.6em; a little more keeps text inside its box. */
const charWidth = (size: number): number => size * 0.62;
const textWidth = (text: string, size: number): number => Math.ceil(text.length * charWidth(size));
const lineHeight = (size: number): number => Math.round(size * 1.35);

const colour = {
  background: "#ffffff",
  stateFill: "#f8fafc",
  compoundFill: "#ffffff",
  stroke: "#475569",
  text: "#0f172a",
  muted: "#64748b",
  edge: "#64748b",
  event: "#1e293b",
  error: "#b91c1c",
  guard: "#6d28d9",
};

const padX = 12;
const padY = 8;
const titleHeight = 28;
const initialRadius = 5;

interface Layout {
  readonly width: number;
  readonly height: number;
  readonly shapes: ReadonlyMap<string, { readonly x: number; readonly y: number; readonly width: number; readonly height: number }>;
  readonly edges: ReadonlyMap<string, ElkExtendedEdge>;
}

/** Which way the arrows mostly run. */
export type StatechartDirection = "down" | "right";

/**
 * How the layered algorithm draws a chart. With the whole hierarchy laid out at once, a compound
 * state's own options govern its children, so each compound state gets these too.
 */
const layeredOptions = (direction: StatechartDirection) => ({
  "elk.algorithm": "layered",
  "elk.direction": direction === "down" ? "DOWN" : "RIGHT",
  "elk.edgeRouting": "ORTHOGONAL",
  "elk.spacing.nodeNode": "28",
  "elk.spacing.edgeNode": "14",
  "elk.spacing.edgeEdge": "10",
  "elk.spacing.edgeLabel": "4",
  "elk.layered.spacing.nodeNodeBetweenLayers": "20",
  "elk.layered.spacing.edgeNodeBetweenLayers": "10",
  "elk.layered.spacing.edgeEdgeBetweenLayers": "10",
  "elk.edgeLabels.placement": "CENTER",
  "elk.edgeLabels.inline": "true",
  // A label next to the state its transition leaves, where a reader looks for it.
  "elk.layered.edgeLabels.centerLabelPlacementStrategy": "TAIL_LAYER",
  "elk.layered.nodePlacement.strategy": "NETWORK_SIMPLEX",
  "elk.randomSeed": "1",
});

const elkStateId = (id: string): string => `state:${id}`;
const elkInitialId = (id: string): string => `initial:${id}`;

/** The lines drawn inside a state's box under its name. */
function detailLines(node: StatechartNode): ReadonlyArray<string> {
  return [
    ...node.invokes.map((src) => `invoke ${src}`),
    // A transition without a target: the event is handled and the state stays.
    ...node.internal.map((label) => `on ${label.event}${label.guard === null ? "" : ` [${label.guard}]`}`),
  ];
}

/** One line per transition; the guard on a line of its own under its event. */
function edgeLines(labels: ReadonlyArray<TransitionLabel>): ReadonlyArray<{ text: string; guard: boolean; event: string }> {
  return labels.flatMap((label) => [
    { text: label.event, guard: false, event: label.event },
    ...(label.guard === null ? [] : [{ text: `[${label.guard}]`, guard: true, event: label.event }]),
  ]);
}

function atomicSize(node: StatechartNode): { width: number; height: number } {
  const details = detailLines(node);
  const width = Math.max(textWidth(node.key, stateFont), ...details.map((line) => textWidth(line, labelFont)));
  return {
    width: Math.max(width + 2 * padX, 72),
    height: lineHeight(stateFont) + details.length * lineHeight(labelFont) + 2 * padY,
  };
}

function toElk(model: StatechartModel, direction: StatechartDirection): ElkNode {
  const childrenOf = new Map<string | null, Array<StatechartNode>>();
  for (const node of model.nodes) {
    childrenOf.set(node.parent, [...(childrenOf.get(node.parent) ?? []), node]);
  }
  const build = (node: StatechartNode): ElkNode => {
    const children = childrenOf.get(node.id) ?? [];
    if (children.length === 0) {
      return { id: elkStateId(node.id), ...atomicSize(node) };
    }
    const details = detailLines(node);
    const top = titleHeight + details.length * lineHeight(labelFont);
    const minWidth = Math.max(textWidth(node.key, stateFont), ...details.map((line) => textWidth(line, labelFont))) + 2 * padX;
    return {
      id: elkStateId(node.id),
      layoutOptions: {
        "elk.padding": `[top=${top},left=16,bottom=16,right=16]`,
        "elk.nodeSize.constraints": "MINIMUM_SIZE",
        "elk.nodeSize.minimum": `(${minWidth}, ${top + 20})`,
        ...layeredOptions(direction),
      },
      children: [
        ...(node.initial.length > 0
          ? [{ id: elkInitialId(node.id), width: 2 * initialRadius, height: 2 * initialRadius }]
          : []),
        ...children.map(build),
      ],
    };
  };
  const root = model.nodes[0]!;
  const edges: Array<ElkExtendedEdge> = [
    ...model.nodes.flatMap((node) =>
      node.initial.map((target) => ({
        id: `${elkInitialId(node.id)}→${target}`,
        sources: [elkInitialId(node.id)],
        targets: [elkStateId(target)],
      })),
    ),
    ...model.edges.map((edge) => {
      const lines = edgeLines(edge.labels);
      return {
        id: edge.id,
        sources: [elkStateId(edge.source)],
        targets: [elkStateId(edge.target)],
        labels: [
          {
            text: lines.map((line) => line.text).join("\n"),
            width: Math.max(...lines.map((line) => textWidth(line.text, labelFont))) + 6,
            height: lines.length * lineHeight(labelFont) + 2,
            layoutOptions: { "elk.edgeLabels.inline": "true" },
          },
        ],
      };
    }),
  ];
  return {
    id: "graph",
    layoutOptions: {
      "elk.hierarchyHandling": "INCLUDE_CHILDREN",
      "elk.json.shapeCoords": "ROOT",
      "elk.json.edgeCoords": "ROOT",
      "elk.padding": "[top=8,left=8,bottom=8,right=8]",
      ...layeredOptions(direction),
    },
    children: [build(root)],
    edges,
  };
}

async function layout(model: StatechartModel, direction: StatechartDirection): Promise<Layout> {
  const loaded = await importOptional(
    "elkjs",
    () => import("elkjs/lib/elk.bundled.js"),
    "Drawing statecharts",
    ["elkjs@0.12.1"],
  );
  // A CommonJS bundle: Node gives its `module.exports` as the default, which carries `default` too.
  const ELK = loaded.default.default ?? (loaded.default as unknown as typeof loaded.default.default);
  const result: ElkNode = await new ELK().layout(toElk(model, direction));
  const shapes = new Map<string, { x: number; y: number; width: number; height: number }>();
  const collect = (node: ElkNode): void => {
    shapes.set(node.id, { x: node.x ?? 0, y: node.y ?? 0, width: node.width ?? 0, height: node.height ?? 0 });
    for (const child of node.children ?? []) {
      collect(child);
    }
  };
  collect(result);
  return {
    width: result.width ?? 0,
    height: result.height ?? 0,
    shapes,
    edges: new Map((result.edges ?? []).map((edge) => [edge.id, edge])),
  };
}

async function narrower(model: StatechartModel): Promise<Layout> {
  const down = await layout(model, "down");
  const right = await layout(model, "right");
  return right.width < down.width ? right : down;
}

const round = (n: number): string => String(Math.round(n * 10) / 10);

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function attrs(values: Record<string, string | number>): string {
  return Object.entries(values)
    .map(([name, value]) => ` ${name}="${typeof value === "number" ? round(value) : escapeXml(value)}"`)
    .join("");
}

function text(x: number, y: number, content: string, extra: Record<string, string | number>): string {
  return `<text${attrs({ x, y, ...extra })}>${escapeXml(content)}</text>`;
}

function drawState(
  node: StatechartNode,
  model: StatechartModel,
  shapes: Layout["shapes"],
  indent: string,
): string {
  const box = shapes.get(elkStateId(node.id))!;
  const children = model.nodes.filter((candidate) => candidate.parent === node.id);
  const parent = model.nodes.find((candidate) => candidate.id === node.parent);
  const inRegion = parent?.kind === "parallel";
  const compound = children.length > 0;
  const lines: Array<string> = [];
  lines.push(`${indent}<g${attrs({ class: "am-state", "data-state": node.id, "data-kind": node.kind })}>`);
  if (node.kind === "history") {
    const r = Math.min(box.width, box.height) / 2;
    lines.push(
      `${indent}  <circle${attrs({ class: "am-state-box", cx: box.x + box.width / 2, cy: box.y + box.height / 2, r, fill: colour.stateFill, stroke: colour.stroke })}/>`,
    );
  } else {
    lines.push(
      `${indent}  <rect${attrs({
        class: "am-state-box",
        x: box.x,
        y: box.y,
        width: box.width,
        height: box.height,
        rx: compound ? 10 : 8,
        fill: compound ? colour.compoundFill : colour.stateFill,
        stroke: colour.stroke,
        "stroke-width": 1.5,
        ...(inRegion ? { "stroke-dasharray": "6 4" } : {}),
      })}/>`,
    );
  }
  if (node.kind === "final") {
    lines.push(
      `${indent}  <rect${attrs({ x: box.x + 3, y: box.y + 3, width: box.width - 6, height: box.height - 6, rx: 6, fill: "none", stroke: colour.stroke })}/>`,
    );
  }
  const name = node.kind === "history" ? "H" : node.key;
  const nameY = compound ? box.y + 19 : box.y + padY + stateFont;
  lines.push(
    `${indent}  ${text(compound ? box.x + padX : box.x + box.width / 2, nameY, name, {
      "font-size": stateFont,
      "font-weight": "bold",
      fill: colour.text,
      ...(compound ? {} : { "text-anchor": "middle" }),
    })}`,
  );
  detailLines(node).forEach((line, index) => {
    const y = (compound ? box.y + titleHeight - 4 : nameY + 4) + (index + 1) * lineHeight(labelFont);
    lines.push(
      `${indent}  ${text(compound ? box.x + padX : box.x + box.width / 2, y, line, {
        "font-size": labelFont,
        fill: colour.muted,
        ...(compound ? {} : { "text-anchor": "middle" }),
      })}`,
    );
  });
  if (node.initial.length > 0) {
    const dot = shapes.get(elkInitialId(node.id))!;
    lines.push(
      `${indent}  <circle${attrs({ class: "am-initial", cx: dot.x + initialRadius, cy: dot.y + initialRadius, r: initialRadius, fill: colour.text })}/>`,
    );
  }
  for (const child of children) {
    lines.push(drawState(child, model, shapes, `${indent}  `));
  }
  lines.push(`${indent}</g>`);
  return lines.join("\n");
}

/** An arrow's path through `points`, with its head at the last point. */
function arrow(points: ReadonlyArray<{ x: number; y: number }>, indent: string): string {
  const d = points.map((p, i) => `${i === 0 ? "M" : "L"}${round(p.x)} ${round(p.y)}`).join(" ");
  const end = points[points.length - 1]!;
  const before = points[points.length - 2] ?? end;
  const angle = Math.atan2(end.y - before.y, end.x - before.x);
  const head = [
    end,
    { x: end.x - 8 * Math.cos(angle - 0.4), y: end.y - 8 * Math.sin(angle - 0.4) },
    { x: end.x - 8 * Math.cos(angle + 0.4), y: end.y - 8 * Math.sin(angle + 0.4) },
  ];
  return [
    `${indent}<path${attrs({ d, fill: "none", stroke: colour.edge, "stroke-width": 1.25 })}/>`,
    `${indent}<polygon${attrs({ points: head.map((p) => `${round(p.x)},${round(p.y)}`).join(" "), fill: colour.edge })}/>`,
  ].join("\n");
}

function pointsOf(edge: ElkExtendedEdge): ReadonlyArray<{ x: number; y: number }> {
  return (edge.sections ?? []).flatMap((section) => [section.startPoint, ...(section.bendPoints ?? []), section.endPoint]);
}

function drawEdge(edge: StatechartEdge, laidOut: ElkExtendedEdge): string {
  const lines: Array<string> = [];
  lines.push(`  <g${attrs({ class: "am-transition", "data-source": edge.source, "data-target": edge.target })}>`);
  lines.push(arrow(pointsOf(laidOut), "    "));
  const label = laidOut.labels?.[0];
  if (label !== undefined) {
    const x = label.x ?? 0;
    const y = label.y ?? 0;
    lines.push(
      `    <rect${attrs({ x, y, width: label.width ?? 0, height: label.height ?? 0, rx: 3, fill: colour.background, "fill-opacity": 0.85 })}/>`,
    );
    edgeLines(edge.labels).forEach((line, index) => {
      const fill = line.guard ? colour.guard : line.event.startsWith("error:") ? colour.error : colour.event;
      lines.push(
        `    ${text(x + 3, y + 1 + labelFont + index * lineHeight(labelFont) - 1, line.text, { "font-size": labelFont, fill })}`,
      );
    });
  }
  lines.push("  </g>");
  return lines.join("\n");
}

/**
 * Draws `machine`'s statechart: its states (nested, parallel regions dashed, final ones with a
 * double border), each compound state's initial marker, and its transitions labelled with what
 * takes them and their guards. `options.title` is the accessible name (default: the machine's
 * id). Without `options.direction`, the chart is laid out both ways and the narrower drawing is
 * kept (top-down on a tie), as a page or a README fits a drawing to its width.
 */
export async function statechartSvg(
  machine: AnyStateMachine,
  options?: { readonly title?: string; readonly direction?: StatechartDirection },
): Promise<string> {
  const model = statechartModel(machine);
  const chosen = options?.direction;
  const { width, height, shapes, edges } = chosen !== undefined ? await layout(model, chosen) : await narrower(model);
  const title = options?.title ?? `Statechart of the ${model.id} machine`;
  const initialArrows = model.nodes.flatMap((node) =>
    node.initial.map((target) => {
      const laidOut = edges.get(`${elkInitialId(node.id)}→${target}`)!;
      return `  <g${attrs({ class: "am-initial-transition", "data-target": target })}>\n${arrow(pointsOf(laidOut), "    ")}\n  </g>`;
    }),
  );
  return [
    `<svg${attrs({
      xmlns: "http://www.w3.org/2000/svg",
      class: "am-statechart",
      "data-machine": model.id,
      role: "img",
      "aria-label": title,
      width: Math.ceil(width),
      height: Math.ceil(height),
      viewBox: `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`,
      "font-family": fontFamily,
    })}>`,
    `  <title>${escapeXml(title)}</title>`,
    `  <rect${attrs({ width: Math.ceil(width), height: Math.ceil(height), fill: colour.background })}/>`,
    drawState(model.nodes[0]!, model, shapes, "  "),
    ...initialArrows,
    ...model.edges.map((edge) => drawEdge(edge, edges.get(edge.id)!)),
    "</svg>",
    "",
  ].join("\n");
}
