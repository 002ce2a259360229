/**
 * Email management (allauth `flows/manage_email`): add, remove, mark primary, re-send
 * verification, for a logged-in user, one action per step.
 *
 *  - add, link mode: `email_confirmation_sent(signup=false)` → `email_added`; code mode: only
 *    `email_confirmation_sent` — the row is stored, and `email_added` emitted, when the code is
 *    confirmed (email-verification flow);
 *  - remove: `email_removed` after the row is gone;
 *  - mark primary: `email_changed` (from the old primary; from = to when re-selected);
 *  - change (no session user: a signup waiting for its code, `CHANGE`): the new address gets a
 *    new code, `email_confirmation_sent` — nothing when the new address is taken and hidden;
 *  - with `reauthenticationRequired`, add/remove/mark primary stop at `reauthenticating` unless
 *    the session authenticated recently — after their input checks (`checking`), as allauth
 *    validates the form before it asks; the edge replays the action after reauthentication.
 */
import { assign, emit, enqueueActions, setup } from "xstate";
import type {
  AddEmailOutput,
  FlowInput,
  ChangePendingEmailInput,
  ChangePendingEmailOutput,
  ManageEmailCheck,
  ManageEmailTarget,
  MarkPrimaryOutput,
  RemoveEmailOutput,
  ResendVerificationOutput,
} from "./contracts.ts";
import { toFlowError } from "./errors.ts";
import type { FlowError } from "./errors.ts";
import { notProvided } from "./not-provided.ts";
import type { AuthSignal, UserRef } from "./signals.ts";

export interface ManageEmailInput extends FlowInput {
  /** `reauthenticationRequired` is on and the last authentication is older than its window. */
  readonly needsReauthentication: boolean;
}

export interface ManageEmailContext {
  readonly sessionUser: UserRef | null;
  readonly needsReauthentication: boolean;
  readonly email: string | null;
  /** The guarded action that waits for reauthentication. */
  readonly action: ManageEmailCheck["action"] | null;
  readonly verificationId: string | null;
  /** `CHANGE`: the signup's user and the address it changes from. */
  readonly change: { readonly userId: string; readonly current: string } | null;
  readonly error: FlowError | null;
}

export type ManageEmailEvent =
  | { readonly type: "ADD"; readonly email: string }
  | { readonly type: "REMOVE"; readonly email: string }
  | { readonly type: "MARK_PRIMARY"; readonly email: string }
  | { readonly type: "RESEND"; readonly email: string }
  /** A signup waiting for its code changes its address; `userId` is the signup's user. */
  | { readonly type: "CHANGE"; readonly email: string; readonly userId: string; readonly current: string };

export const manageEmailMachine = setup({
  types: {
    context: {} as ManageEmailContext,
    events: {} as ManageEmailEvent,
    input: {} as ManageEmailInput,
    emitted: {} as AuthSignal,
  },
  actors: {
    checkEmail: notProvided<ManageEmailCheck, void>("checkEmail"),
    addEmail: notProvided<ManageEmailTarget, AddEmailOutput>("addEmail"),
    removeEmail: notProvided<ManageEmailTarget, RemoveEmailOutput>("removeEmail"),
    markPrimary: notProvided<ManageEmailTarget, MarkPrimaryOutput>("markPrimary"),
    resendVerification: notProvided<ManageEmailTarget, ResendVerificationOutput>("resendVerification"),
    changePendingEmail: notProvided<ChangePendingEmailInput, ChangePendingEmailOutput>("changePendingEmail"),
  },
  guards: {
    isAnonymous: ({ context }) => context.sessionUser === null,
    needsReauthentication: ({ context }) => context.needsReauthentication,
  },
  actions: {
    storeEmail: assign({ email: ({ event }) => event.email }),
    storeAction: assign({
      email: ({ event }) => event.email,
      action: ({ event }) => (event.type === "ADD" || event.type === "REMOVE" || event.type === "MARK_PRIMARY" ? event.type : null),
    }),
    /** Keeps the `{ code, param }` an actor rejected with. */
    storeError: assign({ error: ({ event }) => toFlowError("error" in event ? event.error : null) }),
  },
}).createMachine({
  id: "manage-email",
  context: ({ input }) => ({
    sessionUser: input.sessionUser,
    needsReauthentication: input.needsReauthentication,
    email: null,
    action: null,
    verificationId: null,
    change: null,
    error: null,
  }),
  initial: "idle",
  states: {
    idle: {
      on: {
        ADD: [
          { guard: "isAnonymous", target: "unauthenticated" },
          { guard: "needsReauthentication", target: "checking", actions: "storeAction" },
          { target: "adding", actions: "storeEmail" },
        ],
        REMOVE: [
          { guard: "isAnonymous", target: "unauthenticated" },
          { guard: "needsReauthentication", target: "checking", actions: "storeAction" },
          { target: "removing", actions: "storeEmail" },
        ],
        MARK_PRIMARY: [
          { guard: "isAnonymous", target: "unauthenticated" },
          { guard: "needsReauthentication", target: "checking", actions: "storeAction" },
          { target: "markingPrimary", actions: "storeEmail" },
        ],
        RESEND: [
          { guard: "isAnonymous", target: "unauthenticated" },
          { target: "resending", actions: "storeEmail" },
        ],
        CHANGE: {
          target: "changing",
          actions: assign({
            email: ({ event }) => event.email,
            change: ({ event }) => ({ userId: event.userId, current: event.current }),
          }),
        },
      },
    },
    /** Reauthentication is due: the action's input checks run first (a 400 before the 401). */
    checking: {
      invoke: {
        src: "checkEmail",
        input: ({ context }) => ({ userId: context.sessionUser!.id, email: context.email!, action: context.action! }),
        onDone: { target: "reauthenticating" },
        onError: { target: "rejected", actions: "storeError" },
      },
    },
    changing: {
      invoke: {
        src: "changePendingEmail",
        input: ({ context }) => ({ userId: context.change!.userId, email: context.email!, current: context.change!.current }),
        onDone: {
          target: "done",
          actions: [
            assign({ verificationId: ({ event }) => event.output.verificationId }),
            enqueueActions(({ event, enqueue }) => {
              const { confirmation, signup } = event.output;
              if (confirmation !== null) {
                enqueue.emit({ type: "email_confirmation_sent", confirmation, signup });
              }
            }),
          ],
        },
        onError: { target: "rejected", actions: "storeError" },
      },
    },
    adding: {
      invoke: {
        src: "addEmail",
        input: ({ context }) => ({ userId: context.sessionUser!.id, email: context.email! }),
        onDone: {
          target: "done",
          actions: [
            assign({ verificationId: ({ event }) => event.output.verificationId }),
            enqueueActions(({ context, event, enqueue }) => {
              const { confirmation, emailAddress } = event.output;
              if (confirmation !== null) {
                enqueue.emit({ type: "email_confirmation_sent", confirmation, signup: false });
              }
              if (emailAddress !== null) {
                enqueue.emit({ type: "email_added", user: context.sessionUser!, emailAddress });
              }
            }),
          ],
        },
        onError: { target: "rejected", actions: "storeError" },
      },
    },
    removing: {
      invoke: {
        src: "removeEmail",
        input: ({ context }) => ({ userId: context.sessionUser!.id, email: context.email! }),
        onDone: {
          target: "done",
          actions: emit(({ event }) => ({
            type: "email_removed" as const,
            user: event.output.user,
            emailAddress: event.output.emailAddress,
          })),
        },
        onError: { target: "rejected", actions: "storeError" },
      },
    },
    markingPrimary: {
      invoke: {
        src: "markPrimary",
        input: ({ context }) => ({ userId: context.sessionUser!.id, email: context.email! }),
        onDone: {
          target: "done",
          actions: emit(({ event }) => ({
            type: "email_changed" as const,
            user: event.output.user,
            fromEmailAddress: event.output.fromEmailAddress,
            toEmailAddress: event.output.toEmailAddress,
          })),
        },
        onError: { target: "rejected", actions: "storeError" },
      },
    },
    resending: {
      invoke: {
        src: "resendVerification",
        input: ({ context }) => ({ userId: context.sessionUser!.id, email: context.email! }),
        onDone: [
          {
            // Named, so the statechart diagram can say which guard this is.
            guard: function wasMailed({ event }) {
              return event.output.sent;
            },
            target: "done",
            actions: [
              assign({ verificationId: ({ event }) => event.output.verificationId }),
              emit(({ event }) => ({
                type: "email_confirmation_sent" as const,
                confirmation: event.output.confirmation!,
                signup: false,
              })),
            ],
          },
          { target: "throttled" },
        ],
        onError: { target: "rejected", actions: "storeError" },
      },
    },
    /** The action happened. */
    done: { type: "final", tags: ["done"] },
    /** Refused (not yours, last address, unverified primary, limit, bad address). */
    rejected: { type: "final", tags: ["rejected"] },
    /** The cooldown suppressed the verification mail (HTTP 403). */
    throttled: { type: "final", tags: ["throttled"] },
    /** Reauthentication is required first; the action is suspended (HTTP 401). */
    reauthenticating: { type: "final", tags: ["reauthenticate"] },
    /** Nobody is logged in (HTTP 401). */
    unauthenticated: { type: "final", tags: ["unauthenticated"] },
  },
});
