/**
 * A machine's statechart as plain data, read from its definition (`machine.root` and its
 * `states`): one node per state and one edge per source → target pair, labelled with the events
 * that take it. `statechart.ts` lays it out and draws it; the tests read it directly.
 *
 * Labels are written for people: `SUBMIT`, `always`, `after 30s`, `done: createUser`,
 * `error: createUser`, `done` (a compound state finished), each followed by the guard's name in
 * brackets when the transition has one (`[guarded]` for an unnamed inline guard).
 */
import type { AnyStateMachine, AnyStateNode } from "xstate";

export type StatechartNodeKind = "atomic" | "compound" | "parallel" | "final" | "history";

export interface StatechartNode {
  /** The `StateNode.id`, e.g. `signup.validating`. */
  readonly id: string;
  /** The state's own key (the machine's id for the root). */
  readonly key: string;
  /** The parent state's id, null for the root. */
  readonly parent: string | null;
  readonly kind: StatechartNodeKind;
  /** Ids of the states the parent's initial transition enters (empty for atomic, final, parallel). */
  readonly initial: ReadonlyArray<string>;
  /** The actors this state invokes, by source name. */
  readonly invokes: ReadonlyArray<string>;
  /** Transitions without a target (they run actions and stay), as labels. */
  readonly internal: ReadonlyArray<TransitionLabel>;
}

export interface TransitionLabel {
  /** What takes the transition: an event type, `always`, `after 5s`, `done: src`, `error: src`. */
  readonly event: string;
  /** The guard's name, when the transition has a guard. */
  readonly guard: string | null;
}

export interface StatechartEdge {
  /** `<source>→<target>`, unique in the chart. */
  readonly id: string;
  readonly source: string;
  readonly target: string;
  /** Every transition from source to target, in the machine's order (the order guards are tried). */
  readonly labels: ReadonlyArray<TransitionLabel>;
}

export interface StatechartModel {
  /** The machine's id (the root state's id). */
  readonly id: string;
  /** Every state, parents before children, in the definition's order. */
  readonly nodes: ReadonlyArray<StatechartNode>;
  readonly edges: ReadonlyArray<StatechartEdge>;
}

type Guard = unknown;

/** A guard's readable name: `isAuthenticated`, `!isX`, `a && b`, `guarded` for an unnamed function. */
export function guardName(guard: Guard): string {
  if (typeof guard === "string") {
    return guard;
  }
  if (typeof guard === "function") {
    const composite = guard as { readonly guards?: ReadonlyArray<Guard>; readonly stateValue?: unknown };
    const parts = composite.guards?.map(guardName) ?? [];
    switch (guard.name) {
      case "not":
        return `!${parts[0] ?? "guarded"}`;
      case "and":
        return parts.join(" && ");
      case "or":
        return parts.join(" || ");
      case "stateIn":
        return `in ${JSON.stringify(composite.stateValue)}`;
      case "":
      case "guard":
        // An inline arrow function takes the property's name.
        return "guarded";
      default:
        return guard.name;
    }
  }
  if (typeof guard === "object" && guard !== null && typeof (guard as { type?: unknown }).type === "string") {
    return (guard as { type: string }).type;
  }
  return "guarded";
}

/** `30000` → `30s`, `300000` → `5min`, `250` → `250ms`; a named delay stays as it is. */
export function delayName(delay: unknown): string {
  if (typeof delay === "number") {
    if (delay >= 60_000 && delay % 60_000 === 0) {
      return `${delay / 60_000}min`;
    }
    if (delay >= 1000 && delay % 1000 === 0) {
      return `${delay / 1000}s`;
    }
    return `${delay}ms`;
  }
  return typeof delay === "string" ? delay : "delay";
}

/** The readable name of what triggers `eventType` in `node`. */
function eventLabel(node: AnyStateNode, eventType: string): string {
  const invokeOf = (prefix: string): string | null => {
    if (!eventType.startsWith(prefix)) {
      return null;
    }
    const invokeId = eventType.slice(prefix.length);
    const invoke = node.invoke.find((definition) => definition.id === invokeId);
    return typeof invoke?.src === "string" ? invoke.src : invokeId;
  };
  const done = invokeOf("xstate.done.actor.");
  if (done !== null) {
    return `done: ${done}`;
  }
  const error = invokeOf("xstate.error.actor.");
  if (error !== null) {
    return `error: ${error}`;
  }
  if (eventType.startsWith("xstate.done.state.")) {
    return "done";
  }
  const delayed = node.after.find((definition) => definition.eventType === eventType);
  if (delayed !== undefined) {
    return `after ${delayName(delayed.delay)}`;
  }
  return eventType;
}

function kindOf(node: AnyStateNode): StatechartNodeKind {
  return node.type;
}

function childrenOf(node: AnyStateNode): ReadonlyArray<AnyStateNode> {
  return Object.values(node.states) as ReadonlyArray<AnyStateNode>;
}

/** Reads `machine`'s chart from its definition. */
export function statechartModel(machine: AnyStateMachine): StatechartModel {
  const nodes: Array<StatechartNode> = [];
  const edges = new Map<string, { source: string; target: string; labels: Array<TransitionLabel> }>();

  const visit = (node: AnyStateNode): void => {
    const internal: Array<TransitionLabel> = [];
    const transitions = [
      ...[...node.transitions.entries()].flatMap(([eventType, definitions]) =>
        definitions.map((definition) => ({ event: eventLabel(node, eventType), definition })),
      ),
      ...(node.always ?? []).map((definition) => ({ event: "always", definition })),
    ];
    for (const { event, definition } of transitions) {
      const label = { event, guard: definition.guard === undefined ? null : guardName(definition.guard) };
      const targets = definition.target ?? [];
      if (targets.length === 0) {
        internal.push(label);
      }
      for (const target of targets) {
        const id = `${node.id}→${target.id}`;
        const edge = edges.get(id) ?? { source: node.id, target: target.id, labels: [] };
        edge.labels.push(label);
        edges.set(id, edge);
      }
    }
    const hasInitial = node.type === "compound";
    nodes.push({
      id: node.id,
      key: node.parent === undefined ? node.id : node.key,
      parent: node.parent?.id ?? null,
      kind: kindOf(node),
      initial: hasInitial ? (node.initial.target as ReadonlyArray<AnyStateNode>).map((target) => target.id) : [],
      invokes: node.invoke.map((definition) => (typeof definition.src === "string" ? definition.src : definition.id)),
      internal,
    });
    for (const child of childrenOf(node)) {
      visit(child);
    }
  };
  visit(machine.root);

  return {
    id: machine.root.id,
    nodes,
    edges: [...edges.entries()].map(([id, edge]) => ({ id, ...edge })),
  };
}
