/**
 * Runs a flow machine for one step: create (or restore) the actor, record what it emits, send
 * the event, and wait until it rests — done, or waiting for the next event with no actor in
 * flight. Only resting snapshots are ever persisted.
 */
import { createActor, waitFor } from "xstate";
import type { AnyStateMachine, EventFrom, InputFrom, Snapshot, SnapshotFrom } from "xstate";
import type { AuthSignal } from "../../machines/signals.ts";
import type { BoundMachine } from "./bound-machine.ts";
import { registerRun } from "./bound-machine.ts";
import type { Step } from "./step.ts";

export interface RunOptions<M extends AnyStateMachine> {
  readonly input: InputFrom<M>;
  /** A persisted snapshot to resume from instead of starting fresh. */
  readonly snapshot?: Snapshot<unknown>;
  readonly event?: EventFrom<M>;
}

export interface RunResult<M extends AnyStateMachine> {
  readonly snapshot: SnapshotFrom<M>;
  /** The persisted form, to store when the flow is still pending (made when first read). */
  readonly persisted: Snapshot<unknown>;
}

function isResting(snapshot: { status: string; children: Record<string, unknown> }): boolean {
  return snapshot.status !== "active" || Object.keys(snapshot.children).length === 0;
}

export async function runMachine<M extends AnyStateMachine>(
  step: Step,
  { machine, actors }: BoundMachine<M>,
  options: RunOptions<M>,
): Promise<RunResult<M>> {
  const actor = createActor(machine, {
    input: options.input,
    ...(options.snapshot === undefined ? {} : { snapshot: options.snapshot }),
    ...(step.inspect === undefined ? {} : { inspect: step.inspect }),
  });
  registerRun(actor.system, actors);
  actor.on("*", (signal: AuthSignal) => {
    step.signals.push({ signal, sessionUser: step.session.user, sessionId: step.session.id });
  });
  actor.start();
  if (options.event !== undefined) {
    actor.send(options.event);
  }
  try {
    const rested = (await waitFor(actor, isResting, { timeout: 60_000 })) as { status: string; error?: unknown };
    if (rested.status === "error") {
      throw rested.error;
    }
    const snapshot = rested as SnapshotFrom<M>;
    // A resting snapshot has no running child, so its persisted form depends on nothing the
    // actor's stop changes; most steps end their flow and never ask for it.
    return {
      snapshot,
      get persisted() {
        return machine.getPersistedSnapshot(snapshot) as Snapshot<unknown>;
      },
    };
  } finally {
    actor.stop();
  }
}
