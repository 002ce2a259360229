/**
 * A flow machine built once with its actors, instead of `machine.provide()` on every request.
 *
 * `provide()` builds a new state tree each time it is called. Here each machine is provided once
 * per process with stand-in actors; when the flow invokes one, the stand-in looks up the
 * implementation that the running step registered for its actor system (`runMachine` registers
 * it before the actor starts) and runs that. The step's own implementations stay plain
 * `fromPromise` actors, typed by the machine as `provide()` would type them.
 */
import type { ActorSystem, AnyActorLogic, AnyStateMachine, MachineImplementationsFrom, PromiseActorLogic } from "xstate";

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

type PromiseSnapshot = ReturnType<PromiseActorLogic<unknown, unknown>["getInitialSnapshot"]>;

/** Sends `event` to `self` through its system's internal delivery, as `fromPromise` does. */
function relay(system: object, self: unknown, event: { type: string; data: unknown }): void {
  if (!("_relay" in system) || typeof system._relay !== "function") {
    throw new Error("authmachines: this xstate's actor system has no _relay");
  }
  system._relay(self, self, event);
}

const resolved = "xstate.promise.resolve";
const rejected = "xstate.promise.reject";

/**
 * The stand-in for the actor `name`: xstate's `fromPromise` logic (same snapshots, same events),
 * except that the `AbortController` behind its `signal` is made only when the implementation
 * reads `signal`. `fromPromise` makes one for every invocation, and none of ours reads it:
 * creating its signal was about 1 % of a login's CPU.
 */
function standIn(name: string): PromiseActorLogic<unknown, unknown> {
  const controllers = new WeakMap<object, AbortController>();
  const run: PromiseCreator = (args) => creatorOf(name, actorsByRun.get(args["system"] as AnyActorSystem)?.[name])(args);
  const logic: PromiseActorLogic<unknown, unknown> = {
    config: run,
    transition: (snapshot, event: { type: string; data?: unknown }, scope) => {
      if (snapshot.status !== "active") {
        return snapshot;
      }
      switch (event.type) {
        case resolved:
          return { ...snapshot, status: "done", output: event.data, input: undefined };
        case rejected:
          return { ...snapshot, status: "error", error: event.data, input: undefined };
        case "xstate.stop":
          controllers.get(scope.self)?.abort();
          controllers.delete(scope.self);
          return { ...snapshot, status: "stopped", input: undefined };
        default:
          return snapshot;
      }
    },
    start: (snapshot, { self, system, emit }) => {
      if (snapshot.status !== "active") {
        return;
      }
      const args = {
        input: snapshot.input,
        system,
        self,
        emit,
        get signal(): AbortSignal {
          let controller = controllers.get(self);
          if (controller === undefined) {
            controller = new AbortController();
            controllers.set(self, controller);
          }
          return controller.signal;
        },
      };
      const settle = (type: string) => (data: unknown) => {
        if (self.getSnapshot().status !== "active") {
          return;
        }
        controllers.delete(self);
        relay(system, self, { type, data });
      };
      Promise.resolve(run(args)).then(settle(resolved), settle(rejected));
    },
    getInitialSnapshot: (_, input) => ({ status: "active", output: undefined, error: undefined, input }),
    getPersistedSnapshot: (snapshot) => snapshot,
    restoreSnapshot: (snapshot) => snapshot as PromiseSnapshot,
  };
  return logic;
}

function build<M extends AnyStateMachine>(machine: M): M {
  const stands = Object.fromEntries(Object.keys(machine.implementations.actors).map((name) => [name, standIn(name)]));
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
