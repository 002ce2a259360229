/**
 * Machines built once (issue #13): `withActors` gives the same built machine for every step, and
 * each run's invocations reach the implementations registered for that run only, even when
 * runs of one machine overlap. The stand-ins behave as `fromPromise`: a resolved promise ends in
 * `onDone`, a rejected one in `onError`, and stopping the flow aborts the implementation's
 * `signal`, whose controller is made only when the implementation reads it.
 */
import { createActor, fromPromise, toPromise, waitFor } from "xstate";
import { describe, expect, it } from "vitest";
import { logoutMachine } from "../../machines/logout.ts";
import { registerRun, withActors } from "../../src/runtime/bound-machine.ts";

const input = { sessionUser: { id: "u1", email: null, username: "ann" } } as never;

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("withActors", () => {
  it("builds each machine once, whatever the step's implementations", () => {
    const one = withActors(logoutMachine, { endSession: fromPromise<void, void>(async () => {}) });
    const two = withActors(logoutMachine, { endSession: fromPromise<void, void>(async () => {}) });
    expect(one.machine).toBe(two.machine);
    expect(one.machine).not.toBe(logoutMachine);
    expect(one.actors).not.toBe(two.actors);
  });

  it("runs each invocation with its own run's implementation while two runs overlap", async () => {
    const calls: Array<string> = [];
    const gates = { a: deferred(), b: deferred() };
    const bound = (name: "a" | "b") =>
      withActors(logoutMachine, {
        endSession: fromPromise<void, void>(async () => {
          calls.push(`start ${name}`);
          await gates[name].promise;
          calls.push(`end ${name}`);
        }),
      });
    const runs = (["a", "b"] as const).map((name) => {
      const { machine, actors } = bound(name);
      const actor = createActor(machine, { input });
      registerRun(actor.system, actors);
      actor.start();
      actor.send({ type: "LOGOUT" });
      return actor;
    });
    await waitFor(runs[1]!, () => calls.length === 2);
    expect(calls).toEqual(["start a", "start b"]);
    gates.b.resolve();
    await toPromise(runs[1]!);
    expect(runs[0]!.getSnapshot().status).toBe("active");
    gates.a.resolve();
    await toPromise(runs[0]!);
    expect(calls).toEqual(["start a", "start b", "end b", "end a"]);
  });

  it("fails the flow, naming the actor, when the run registered no implementation", async () => {
    const { machine } = withActors(logoutMachine, {});
    const errors: Array<unknown> = [];
    const actor = createActor(machine, {
      input,
      inspect: (e) => {
        if (e.type === "@xstate.event" && e.event.type.startsWith("xstate.error.actor")) {
          errors.push((e.event as { error?: unknown }).error);
        }
      },
    });
    actor.start();
    actor.send({ type: "LOGOUT" });
    await toPromise(actor);
    expect(actor.getSnapshot().value).toBe("failed");
    expect(String(errors[0])).toContain('the actor "endSession" has no promise implementation in this run');
  });

  it("ends in onDone or onError as the implementation resolves or rejects", async () => {
    const run = async (endSession: () => Promise<void>) => {
      const { machine, actors } = withActors(logoutMachine, { endSession: fromPromise<void, void>(endSession) });
      const events: Array<string> = [];
      const actor = createActor(machine, { input, inspect: (e) => void (e.type === "@xstate.event" && events.push(e.event.type)) });
      registerRun(actor.system, actors);
      actor.start();
      actor.send({ type: "LOGOUT" });
      await toPromise(actor);
      return { value: actor.getSnapshot().value, events: events.filter((type) => type.startsWith("xstate.")) };
    };
    const done = await run(async () => {});
    expect(done.value).toBe("done");
    expect(done.events).toEqual(["xstate.init", "xstate.init", "xstate.promise.resolve", "xstate.done.actor.0.logout.endingSession"]);
    const failed = await run(async () => {
      throw new Error("gone");
    });
    expect(failed.value).toBe("failed");
    expect(failed.events).toEqual(["xstate.init", "xstate.init", "xstate.promise.reject", "xstate.error.actor.0.logout.endingSession"]);
  });

  it("makes an AbortController only for an implementation that reads its signal, and aborts it when the flow stops", async () => {
    const made: Array<AbortController> = [];
    const Original = globalThis.AbortController;
    globalThis.AbortController = class extends Original {
      constructor() {
        super();
        made.push(this);
      }
    };
    try {
      const started = deferred();
      const quiet = withActors(logoutMachine, { endSession: fromPromise<void, void>(() => new Promise(() => started.resolve())) });
      const one = createActor(quiet.machine, { input });
      registerRun(one.system, quiet.actors);
      one.start();
      one.send({ type: "LOGOUT" });
      await started.promise;
      one.stop();
      expect(made).toHaveLength(0);

      const reading = deferred();
      let seen: AbortSignal | null = null;
      const listening = withActors(logoutMachine, {
        endSession: fromPromise<void, void>(({ signal }) => {
          seen = signal;
          reading.resolve();
          return new Promise(() => {});
        }),
      });
      const two = createActor(listening.machine, { input });
      registerRun(two.system, listening.actors);
      two.start();
      two.send({ type: "LOGOUT" });
      await reading.promise;
      expect(made).toHaveLength(1);
      expect(seen!.aborted).toBe(false);
      two.stop();
      expect(seen!.aborted).toBe(true);
    } finally {
      globalThis.AbortController = Original;
    }
  });
});
