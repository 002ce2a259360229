/**
 * The shape shared by `password-change` and `password-set` (allauth
 * `flows/password_change`): save the password (other sessions die with the old one), then either
 * keep the session or, with `account.logoutOnPasswordChange`, log out emitting `user_logged_out`,
 * and emit the flow's signal last.
 */
import { assign, emit, setup } from "xstate";
import type { ChangePasswordInput, ChangePasswordOutput, FlowInput } from "./contracts.ts";
import { toFlowError } from "./errors.ts";
import type { FlowError } from "./errors.ts";
import { notProvided } from "./not-provided.ts";
import type { Secret } from "./secret.ts";
import type { AuthSignal, UserRef } from "./signals.ts";

export interface PasswordFlowInput extends FlowInput {
  readonly logoutOnPasswordChange: boolean;
}

export interface PasswordFlowContext {
  readonly sessionUser: UserRef | null;
  readonly logoutOnPasswordChange: boolean;
  readonly user: UserRef | null;
  readonly currentPassword: Secret | null;
  readonly newPassword: Secret | null;
  readonly error: FlowError | null;
}

export type PasswordFlowEvent = {
  readonly type: "SUBMIT";
  readonly currentPassword: Secret | null;
  readonly newPassword: Secret | null;
};

/** Builds the machine for `password_changed` (`id: "password-change"`) or `password_set`. */
export function passwordFlowMachine(kind: "password-change" | "password-set") {
  const signal = kind === "password-change" ? "password_changed" : "password_set";
  return setup({
    types: {
      context: {} as PasswordFlowContext,
      events: {} as PasswordFlowEvent,
      input: {} as PasswordFlowInput,
      emitted: {} as AuthSignal,
    },
    actors: {
      savePassword: notProvided<ChangePasswordInput, ChangePasswordOutput>("savePassword"),
      endSession: notProvided<void, void>("endSession"),
    },
    guards: {
      isAnonymous: ({ context }) => context.sessionUser === null,
      /** Setting needs a user without a usable password; changing needs one with. */
      isWrongKind: ({ context }) => context.sessionUser!.hasUsablePassword !== (kind === "password-change"),
      logsOut: ({ context }) => context.logoutOnPasswordChange,
    },
    actions: {
      forgetPasswords: assign({ currentPassword: null, newPassword: null }),
      emitLoggedOut: emit(({ context }) => ({ type: "user_logged_out" as const, user: context.sessionUser })),
      emitSignal: emit(({ context }) => ({ type: signal, user: context.user! })),
    },
  }).createMachine({
    id: kind,
    context: ({ input }) => ({
      sessionUser: input.sessionUser,
      logoutOnPasswordChange: input.logoutOnPasswordChange,
      user: null,
      currentPassword: null,
      newPassword: null,
      error: null,
    }),
    initial: "idle",
    states: {
      idle: {
        on: {
          SUBMIT: [
            { guard: "isAnonymous", target: "unauthenticated" },
            { guard: "isWrongKind", target: "conflict" },
            {
              target: "saving",
              actions: assign({
                currentPassword: ({ event }) => event.currentPassword,
                newPassword: ({ event }) => event.newPassword,
              }),
            },
          ],
        },
      },
      saving: {
        invoke: {
          src: "savePassword",
          input: ({ context }) => ({
            userId: context.sessionUser!.id,
            currentPassword: context.currentPassword,
            newPassword: context.newPassword,
          }),
          onDone: [
            {
              guard: "logsOut",
              target: "loggingOut",
              actions: [assign({ user: ({ event }) => event.output.user }), "forgetPasswords", "emitLoggedOut"],
            },
            {
              target: "done",
              actions: [assign({ user: ({ event }) => event.output.user }), "forgetPasswords", "emitSignal"],
            },
          ],
          onError: {
            target: "rejected",
            actions: [assign({ error: ({ event }) => toFlowError(event.error) }), "forgetPasswords"],
          },
        },
      },
      loggingOut: {
        invoke: {
          src: "endSession",
          onDone: { target: "done", actions: "emitSignal" },
          onError: { target: "failed", actions: assign({ error: ({ event }) => toFlowError(event.error) }) },
        },
      },
      /** Saved; the session is kept, or ended with `logoutOnPasswordChange`. */
      done: { type: "final", tags: ["done"] },
      /** Wrong current password or a weak new one. */
      rejected: { type: "final", tags: ["rejected"] },
      /** Nobody is logged in (HTTP 401). */
      unauthenticated: { type: "final", tags: ["unauthenticated"] },
      /** Set on a user with a password, or change on one without (HTTP 409). */
      conflict: { type: "final", tags: ["conflict"] },
      failed: { type: "final", tags: ["failed"] },
    },
  });
}
