/** Actors of the `logout` machine. */
import { fromPromise } from "xstate";
import { endSession } from "../runtime/session.ts";
import type { Step } from "../runtime/step.ts";

export function logoutActors(step: Step) {
  return {
    endSession: fromPromise<void, void>(() => step.write(endSession(step))),
  };
}
