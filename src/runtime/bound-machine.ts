/**
 * A flow machine built once with its actors, instead of `machine.provide()` on every request.
 *
 * `provide()` builds a new state tree each time it is called. Here each machine is provided once
 * per process with stand-in actors; when the flow invokes one, the stand-in looks up the
 * implementation that the running step registered for its actor system (`runMachine` registers
 * it before the actor starts) and runs that. The step's own implementations stay plain
 * `fromPromise` actors, typed by the machine as `provide()` would type them.
 */
import { fromPromise } from "xstate";
import type { ActorSystem, AnyActorLogic, AnyStateMachine, MachineImplementationsFrom } from "xstate";

type AnyActorSystem = ActorSystem<any>;

/** A machine built once, and the step's own implementations of its actors. */
export interface BoundMachine<M extends AnyStateMachine> {
  readonly machine: M;
  readonly actors: Readonly<Record<string, AnyActorLogic>>;
}

type PromiseCreator = (args: Record<string, unknown>) => PromiseLike<unknown>;

const builtOnce = new WeakMap<AnyStateMachine, AnyStateMachine>();
const actorsByRun = new WeakMap<AnyActorSystem, Readonly<Record<string, AnyActorLogic>>>();

function creatorOf(name: string, logic: AnyActorLogic | undefined): PromiseCreator {
  const creator = (logic as { config?: unknown } | undefined)?.config;
  if (typeof creator !== "function") {
    throw new Error(`authmachines: the actor "${name}" has no promise implementation in this run`);
  }
  return creator as PromiseCreator;
}

function build<M extends AnyStateMachine>(machine: M): M {
  const stands = Object.fromEntries(
    Object.keys(machine.implementations.actors).map((name) => [
      name,
      fromPromise<unknown, unknown>((args) => creatorOf(name, actorsByRun.get(args.system)?.[name])(args)),
    ]),
  );
  return machine.provide({ actors: stands }) as M;
}

/** `machine` with the step's `actors`, without building a new machine. */
export function withActors<M extends AnyStateMachine>(machine: M, actors: MachineImplementationsFrom<M>["actors"]): BoundMachine<M> {
  let once = builtOnce.get(machine) as M | undefined;
  if (once === undefined) {
    once = build(machine);
    builtOnce.set(machine, once);
  }
  return { machine: once, actors: actors as Readonly<Record<string, AnyActorLogic>> };
}

/** Called by `runMachine` before the actor starts: its system's invocations use `actors`. */
export function registerRun(system: AnyActorSystem, actors: Readonly<Record<string, AnyActorLogic>>): void {
  actorsByRun.set(system, actors);
}
