/**
 * Reauthentication (allauth `flows/reauthentication`): the logged-in user proves their password
 * again; the session records a fresh authentication. It never emits `user_logged_in`. The edge
 * then replays the action that asked for it.
 */
import { assign, setup } from "xstate";
import type { FlowInput, ReauthenticateInput } from "./contracts.ts";
import { toFlowError } from "./errors.ts";
import type { FlowError } from "./errors.ts";
import { notProvided } from "./not-provided.ts";
import type { Secret } from "./secret.ts";
import type { AuthSignal, UserRef } from "./signals.ts";

export interface ReauthenticateContext {
  readonly sessionUser: UserRef | null;
  readonly password: Secret | null;
  readonly error: FlowError | null;
}

export type ReauthenticateEvent = { readonly type: "SUBMIT"; readonly password: Secret };

export const reauthenticateMachine = setup({
  types: {
    context: {} as ReauthenticateContext,
    events: {} as ReauthenticateEvent,
    input: {} as FlowInput,
    emitted: {} as AuthSignal,
  },
  actors: {
    reauthenticate: notProvided<ReauthenticateInput, void>("reauthenticate"),
  },
  guards: {
    isAnonymous: ({ context }) => context.sessionUser === null,
  },
}).createMachine({
  id: "reauthenticate",
  context: ({ input }) => ({ sessionUser: input.sessionUser, password: null, error: null }),
  initial: "idle",
  states: {
    idle: {
      on: {
        SUBMIT: [
          { guard: "isAnonymous", target: "unauthenticated" },
          { target: "verifying", actions: assign({ password: ({ event }) => event.password }) },
        ],
      },
    },
    verifying: {
      invoke: {
        src: "reauthenticate",
        input: ({ context }) => ({ userId: context.sessionUser!.id, password: context.password! }),
        onDone: { target: "done", actions: assign({ password: null }) },
        onError: {
          target: "rejected",
          actions: assign({ password: null, error: ({ event }) => toFlowError(event.error) }),
        },
      },
    },
    /** The session holds a fresh authentication record. */
    done: { type: "final", tags: ["done"] },
    /** Wrong password, or throttled. */
    rejected: { type: "final", tags: ["rejected"] },
    unauthenticated: { type: "final", tags: ["unauthenticated"] },
  },
});
