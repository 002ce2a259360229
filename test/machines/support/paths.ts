/**
 * Path generation for the machine catalogue: `@xstate/graph` enumerates every simple path of a
 * flow machine over its user events and over every outcome of its named actors, and each path is
 * replayed microstep by microstep (xstate's pure `getMicrosteps`) to collect the states it passes
 * through (eventless ones included) and the signals its `emit` actions send, in order.
 *
 * The machines invoke promise actors; nothing is ever run here. A state that invokes an actor is
 * offered one `xstate.done.actor.<id>` event per possible output and one
 * `xstate.error.actor.<id>` event per failure of that actor (`PathModel.outcomes`), so the path
 * itself says what each actor answered. Inputs (settings, session) are enumerated as a list of
 * labelled variants per flow: one traversal each.
 */
import { getAdjacencyMap } from "@xstate/graph";
import { __unsafe_getAllOwnEventDescriptors, getInitialMicrosteps, getMicrosteps } from "xstate";
import type { AnyEventObject, AnyMachineSnapshot, AnyStateMachine, AnyStateNode } from "xstate";
import type { AuthSignal } from "../../../machines/signals.ts";

/** One thing a named actor can answer: an output (done) or a rejection (error). */
export type Outcome =
  | { readonly label: string; readonly output: unknown }
  | { readonly label: string; readonly error: unknown };

/** A user event the flow may receive, with the name it has in a path's name. */
export interface UserEvent {
  readonly label: string;
  readonly event: AnyEventObject;
}

/** How to walk one flow machine. */
export interface PathModel {
  readonly machine: AnyStateMachine;
  /** Labelled inputs: every traversal starts from one of them. */
  readonly inputs: ReadonlyArray<{ readonly label: string; readonly input: unknown }>;
  /** The events a client can send; offered in every state that accepts their type. */
  readonly userEvents: ReadonlyArray<UserEvent>;
  /**
   * Every outcome of every named actor the machine invokes, by the actor's `src` name; a function
   * when what the actor can answer depends on what the flow did before (its snapshot).
   */
  readonly outcomes: Readonly<Record<string, ReadonlyArray<Outcome> | ((snapshot: AnyMachineSnapshot) => ReadonlyArray<Outcome>)>>;
  /**
   * Context fields that only carry the answer to the last request (an error to report) and that
   * no guard reads at rest: states differing only in them are one state of the traversal.
   */
  readonly answerOnly?: ReadonlyArray<string>;
  /** State ids no path may reach, each with the reason. */
  readonly unreachable?: Readonly<Record<string, string>>;
}

/** One step of a generated path: the event, what it emitted, where it went. */
export interface PathStep {
  readonly label: string;
  /** True for a client's event (a new request), false for an actor's answer. */
  readonly isUserEvent: boolean;
  readonly event: AnyEventObject;
  readonly signals: ReadonlyArray<AuthSignal>;
  /** The state ids active before the step. */
  readonly from: ReadonlyArray<string>;
  /** Every state id active in any microstep of this step, eventless states included. */
  readonly visited: ReadonlyArray<string>;
  /** The state ids and tags at rest after the step. */
  readonly after: { readonly states: ReadonlyArray<string>; readonly tags: ReadonlyArray<string>; readonly done: boolean };
}

/** A generated path: from the initial state to a state where the machine waits or is done. */
export interface GeneratedPath {
  readonly slug: string;
  readonly inputLabel: string;
  readonly input: unknown;
  /** `<input> :: EVENT → actor:outcome → …`: names the path in every failure message. */
  readonly name: string;
  /** What the initial state (and its eventless transitions) emitted and visited. */
  readonly start: PathStep;
  readonly steps: ReadonlyArray<PathStep>;
  /** Every signal of the path, in order. */
  readonly signals: ReadonlyArray<AuthSignal>;
}

type LabelledEvent = AnyEventObject & { readonly "@label": string; readonly "@user": boolean };

/** Every state node of a machine, by id, the root excepted. */
export function stateIds(machine: AnyStateMachine): Array<string> {
  const ids: Array<string> = [];
  const walk = (node: AnyStateNode): void => {
    for (const child of Object.values(node.states) as Array<AnyStateNode>) {
      ids.push(child.id);
      walk(child);
    }
  };
  walk(machine.root);
  return ids;
}

function activeNodes(snapshot: AnyMachineSnapshot): Array<AnyStateNode> {
  return (snapshot as unknown as { _nodes: Array<AnyStateNode> })._nodes.filter((node) => node.parent !== undefined);
}

/** The events a state answers: the user events it accepts, and each outcome of its invocations. */
function eventsFor(model: PathModel, snapshot: AnyMachineSnapshot): Array<LabelledEvent> {
  if (snapshot.status !== "active") {
    return [];
  }
  const accepted = new Set<string>(__unsafe_getAllOwnEventDescriptors(snapshot));
  const events: Array<LabelledEvent> = model.userEvents
    .filter(({ event }) => accepted.has(event.type))
    .map(({ label, event }) => ({ ...event, "@label": label, "@user": true }));
  for (const node of activeNodes(snapshot)) {
    for (const invoke of node.invoke) {
      const src = String(invoke.src);
      const given = model.outcomes[src];
      const outcomes = typeof given === "function" ? given(snapshot) : given;
      if (outcomes === undefined || outcomes.length === 0) {
        throw new Error(`${model.machine.id}: no outcomes given for the actor ${src} (state ${node.id})`);
      }
      for (const outcome of outcomes) {
        events.push(
          "output" in outcome
            ? { type: `xstate.done.actor.${invoke.id}`, output: outcome.output, "@label": `${src}:${outcome.label}`, "@user": false }
            : { type: `xstate.error.actor.${invoke.id}`, error: outcome.error, "@label": `${src}:${outcome.label}!`, "@user": false },
        );
      }
    }
  }
  return events;
}

function isInvoking(snapshot: AnyMachineSnapshot): boolean {
  return activeNodes(snapshot).some((node) => node.invoke.length > 0);
}

function signalsOf(actions: ReadonlyArray<{ readonly type: string; readonly params?: unknown }>): Array<AuthSignal> {
  return actions
    .filter((action) => action.type === "xstate.emit")
    .map((action) => (action.params as { event: AuthSignal }).event);
}

function stepOf(
  label: string,
  isUserEvent: boolean,
  event: AnyEventObject,
  microsteps: ReadonlyArray<readonly [AnyMachineSnapshot, ReadonlyArray<{ type: string; params?: unknown }>]>,
  fallback: AnyMachineSnapshot,
): { step: PathStep; snapshot: AnyMachineSnapshot } {
  const signals = microsteps.flatMap(([, actions]) => signalsOf(actions));
  const visited = [...new Set(microsteps.flatMap(([snapshot]) => activeNodes(snapshot).map((node) => node.id)))];
  const snapshot = microsteps.length === 0 ? fallback : microsteps[microsteps.length - 1]![0];
  const states = activeNodes(snapshot).map((node) => node.id);
  return {
    snapshot,
    step: {
      label,
      isUserEvent,
      event,
      signals,
      from: activeNodes(fallback).map((node) => node.id),
      visited,
      after: { states, tags: [...snapshot.tags].sort(), done: snapshot.status === "done" },
    },
  };
}

type Microsteps = Array<[AnyMachineSnapshot, Array<{ type: string; params?: unknown }>]>;

/** A replay in progress: the steps so far and the snapshot they left. */
interface Replayed {
  readonly start: PathStep;
  readonly steps: ReadonlyArray<PathStep>;
  readonly snapshot: AnyMachineSnapshot;
}

function replayStart(machine: AnyStateMachine, input: unknown): Replayed {
  const initial = getInitialMicrosteps(machine, input as never) as unknown as Microsteps;
  const first = stepOf("(start)", false, { type: "xstate.init" }, initial, initial[0]![0]);
  return { start: first.step, steps: [], snapshot: first.snapshot };
}

function replayStep(machine: AnyStateMachine, replayed: Replayed, event: LabelledEvent): Replayed {
  const { "@label": label, "@user": isUser, ...plain } = event;
  const microsteps = getMicrosteps(machine, replayed.snapshot as never, plain as never) as unknown as Microsteps;
  const next = stepOf(label, isUser, plain, microsteps, replayed.snapshot);
  return { start: replayed.start, steps: [...replayed.steps, next.step], snapshot: next.snapshot };
}

function toPath(slug: string, inputLabel: string, input: unknown, replayed: Replayed): GeneratedPath {
  const { start, steps } = replayed;
  return {
    slug,
    inputLabel,
    input,
    name: `${inputLabel} :: ${steps.map((step) => step.label).join(" → ") || "(no event)"}`,
    start,
    steps,
    signals: [...start.signals, ...steps.flatMap((step) => step.signals)],
  };
}

/** Replays `events` from `input`, one microstep at a time. */
export function replay(
  slug: string,
  machine: AnyStateMachine,
  inputLabel: string,
  input: unknown,
  events: ReadonlyArray<LabelledEvent>,
): GeneratedPath {
  return toPath(slug, inputLabel, input, events.reduce((replayed, event) => replayStep(machine, replayed, event), replayStart(machine, input)));
}

const serialized = new WeakMap<object, string>();

/**
 * The traversal's key of a state: its value and context; at rest, without the fields the model
 * names as the last answer only (memoised per snapshot).
 */
function keyOfSnapshot(snapshot: AnyMachineSnapshot, answerOnly: ReadonlyArray<string>): string {
  let key = serialized.get(snapshot);
  if (key === undefined) {
    const resting = !isInvoking(snapshot);
    const context = Object.fromEntries(
      Object.entries(snapshot.context as object).filter(([field]) => !(resting && answerOnly.includes(field))),
    );
    key = JSON.stringify({ value: snapshot.value, context });
    serialized.set(snapshot, key);
  }
  return key;
}

type Adjacency = Record<string, { state: AnyMachineSnapshot; transitions: Record<string, { event: LabelledEvent; state: AnyMachineSnapshot }> }>;

/**
 * The paths of the flow from each of its inputs. `@xstate/graph` builds the flow's adjacency map
 * (every state, by value and context, and every event it answers: the client's events and each
 * outcome of each running actor). A path is then one prefix and one request:
 *
 *  - a resting state is one where no actor runs (it waits for the client, or is final); the
 *    initial state is one;
 *  - for every resting state, the shortest path that reaches it is the prefix, and every way one
 *    client request can go from there (every outcome of every actor it runs, in every order the
 *    chart allows) up to the next resting state is a path.
 *
 * Single-request flows thus get all their paths; the code flows, which rest between requests,
 * get every request from every state they can rest in (a wrong code, a resend, a checked code…).
 */
export function generatePaths(slug: string, model: PathModel): Array<GeneratedPath> {
  const paths: Array<GeneratedPath> = [];
  const answerOnly = model.answerOnly ?? [];
  const keyOf = (snapshot: AnyMachineSnapshot): string => keyOfSnapshot(snapshot, answerOnly);
  for (const { label, input } of model.inputs) {
    const adjacency = getAdjacencyMap(model.machine, {
      input: input as never,
      serializeState: (snapshot: unknown) => keyOf(snapshot as AnyMachineSnapshot),
      events: (snapshot: unknown) => eventsFor(model, snapshot as AnyMachineSnapshot) as never,
    } as never) as unknown as Adjacency;
    const rootKey = Object.keys(adjacency)[0]!;
    // Shortest prefixes, breadth first.
    const prefixes = new Map<string, Array<LabelledEvent>>([[rootKey, []]]);
    const queue = [rootKey];
    while (queue.length > 0) {
      const key = queue.shift()!;
      for (const { event, state } of Object.values(adjacency[key]!.transitions)) {
        const next = keyOf(state);
        if (!prefixes.has(next)) {
          prefixes.set(next, [...prefixes.get(key)!, event]);
          queue.push(next);
        }
      }
    }
    for (const [restKey, prefix] of prefixes) {
      const rest = adjacency[restKey]!.state;
      if (isInvoking(rest) || rest.status !== "active") {
        continue;
      }
      const prefixReplay = prefix.reduce((replayed, event) => replayStep(model.machine, replayed, event), replayStart(model.machine, input));
      const onPath = new Set<string>([restKey]);
      const walk = (key: string, replayed: Replayed): void => {
        for (const { event, state } of Object.values(adjacency[key]!.transitions)) {
          const next = keyOf(state);
          const invoking = isInvoking(state);
          if (invoking && onPath.has(next)) {
            continue;
          }
          const stepped = replayStep(model.machine, replayed, event);
          if (invoking) {
            onPath.add(next);
            walk(next, stepped);
            onPath.delete(next);
          } else {
            paths.push(checked(toPath(slug, label, input, stepped), state));
          }
        }
      };
      walk(restKey, prefixReplay);
    }
  }
  return paths;
}

/** Checks that the replay of a path ends where the traversal did. */
function checked(path: GeneratedPath, end: AnyMachineSnapshot): GeneratedPath {
  const last = path.steps[path.steps.length - 1]!;
  const expected = activeNodes(end).map((node) => node.id);
  if (JSON.stringify(last.after.states) !== JSON.stringify(expected)) {
    throw new Error(`${path.name}: the replay ended in ${last.after.states.join(",")}, the graph in ${expected.join(",")}`);
  }
  return path;
}

/** The state ids the paths visit, the initial state's included. */
export function visitedStates(paths: ReadonlyArray<GeneratedPath>): Set<string> {
  const visited = new Set<string>();
  for (const path of paths) {
    for (const step of [path.start, ...path.steps]) {
      for (const id of step.visited) {
        visited.add(id);
      }
    }
  }
  return visited;
}

/** The model's state ids no path visits and that it does not list as unreachable. */
export function missingStates(model: PathModel, paths: ReadonlyArray<GeneratedPath>): Array<string> {
  const visited = visitedStates(paths);
  return stateIds(model.machine).filter((id) => !visited.has(id) && model.unreachable?.[id] === undefined);
}

/** The states the model lists as unreachable that a path does reach (the list is stale). */
export function reachedUnreachable(model: PathModel, paths: ReadonlyArray<GeneratedPath>): Array<string> {
  const visited = visitedStates(paths);
  return Object.keys(model.unreachable ?? {}).filter((id) => visited.has(id) || !stateIds(model.machine).includes(id));
}

/** The client events and fixed actor outcomes of the model that no path uses. */
export function unusedEvents(model: PathModel, paths: ReadonlyArray<GeneratedPath>): Array<string> {
  const used = new Set(paths.flatMap((path) => path.steps.map((step) => step.label)));
  const labels = [
    ...model.userEvents.map(({ label }) => label),
    ...Object.entries(model.outcomes).flatMap(([src, outcomes]) =>
      typeof outcomes === "function" ? [] : outcomes.map((outcome) => ("output" in outcome ? `${src}:${outcome.label}` : `${src}:${outcome.label}!`)),
    ),
  ];
  return labels.filter((label) => !used.has(label));
}
