import { createActor, fromPromise, waitFor } from "xstate";
import { describe, expect, it } from "vitest";
import type { ChangePasswordInput, ChangePasswordOutput } from "../../machines/contracts.ts";
import { passwordChangeMachine } from "../../machines/password-change.ts";
import { passwordSetMachine } from "../../machines/password-set.ts";
import { Secret } from "../../machines/secret.ts";
import type { AuthSignal, UserRef } from "../../machines/signals.ts";

const user: UserRef = { id: "u1", username: "ann", email: "ann@example.com", isActive: true, hasUsablePassword: true };
const settings = {
  emailVerification: "none" as const,
  emailVerificationByCodeEnabled: false,
  loginOnEmailConfirmation: false,
  preventEnumeration: true,
  changeEmail: false,
  loginMethods: ["email" as const],
};

async function run(
  machine: typeof passwordChangeMachine,
  options: {
    sessionUser: UserRef | null;
    logout?: boolean;
    fail?: { code: string; param?: string };
    endFails?: boolean;
    current?: Secret | null;
  },
) {
  const saved: Array<ChangePasswordInput> = [];
  const ended: Array<string> = [];
  const actor = createActor(
    machine.provide({
      actors: {
        savePassword: fromPromise(async ({ input }: { input: ChangePasswordInput }): Promise<ChangePasswordOutput> => {
          saved.push(input);
          if (options.fail !== undefined) {
            throw options.fail;
          }
          return { user: { ...options.sessionUser!, hasUsablePassword: true } };
        }),
        endSession: fromPromise(async () => {
          ended.push("ended");
          if (options.endFails === true) {
            throw new Error("db down");
          }
        }),
      },
    }),
    { input: { settings, sessionUser: options.sessionUser, logoutOnPasswordChange: options.logout ?? false } },
  );
  const seen: Array<AuthSignal> = [];
  actor.on("*", (signal) => void seen.push(signal));
  actor.start();
  const currentPassword = options.current === undefined ? new Secret("old password here!") : options.current;
  actor.send({ type: "SUBMIT", currentPassword, newPassword: new Secret("new password here!!") });
  const snapshot = await waitFor(actor, (s) => s.status === "done");
  return { snapshot, saved, ended, seen, persisted: JSON.stringify(actor.getPersistedSnapshot()) };
}

describe("password-change machine", () => {
  it("saves the password and emits password_changed last, keeping the session", async () => {
    const { snapshot, saved, ended, seen } = await run(passwordChangeMachine, { sessionUser: user });
    expect(snapshot.value).toBe("done");
    expect(seen.map((s) => s.type)).toEqual(["password_changed"]);
    expect(seen[0]).toMatchObject({ user: { id: "u1" } });
    expect(saved).toHaveLength(1);
    expect(saved[0]!.userId).toBe("u1");
    expect(saved[0]!.currentPassword?.reveal()).toBe("old password here!");
    expect(ended).toEqual([]);
  });

  it("logs out first with logoutOnPasswordChange: user_logged_out then password_changed", async () => {
    const { snapshot, ended, seen } = await run(passwordChangeMachine, { sessionUser: user, logout: true });
    expect(snapshot.value).toBe("done");
    expect(seen.map((s) => s.type)).toEqual(["user_logged_out", "password_changed"]);
    expect(seen[0]).toMatchObject({ type: "user_logged_out", user: { id: "u1" } });
    expect(ended).toEqual(["ended"]);
  });

  it("emits nothing and keeps the error when the current password is wrong", async () => {
    const fail = { code: "incorrect_password", param: "current_password" };
    const { snapshot, seen, persisted } = await run(passwordChangeMachine, { sessionUser: user, fail });
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual(fail);
    expect(seen).toEqual([]);
    expect(persisted).not.toContain("old password here!");
    expect(persisted).not.toContain("new password here!!");
  });

  it("refuses an anonymous session without calling any actor", async () => {
    const { snapshot, saved, seen } = await run(passwordChangeMachine, { sessionUser: null });
    expect(snapshot.value).toBe("unauthenticated");
    expect(saved).toEqual([]);
    expect(seen).toEqual([]);
  });

  it("refuses a user without a usable password (that is password-set's job)", async () => {
    const { snapshot, saved } = await run(passwordChangeMachine, { sessionUser: { ...user, hasUsablePassword: false } });
    expect(snapshot.value).toBe("conflict");
    expect(saved).toEqual([]);
  });

  it("fails, after user_logged_out, when ending the session fails", async () => {
    const { snapshot, seen } = await run(passwordChangeMachine, { sessionUser: user, logout: true, endFails: true });
    expect(snapshot.value).toBe("failed");
    expect(seen.map((s) => s.type)).toEqual(["user_logged_out"]);
  });

  it("covers every state of the machine", () => {
    expect(Object.keys(passwordChangeMachine.root.states).sort()).toEqual(
      ["conflict", "done", "failed", "idle", "loggingOut", "rejected", "saving", "unauthenticated"].sort(),
    );
  });
});

describe("password-set machine", () => {
  const passwordless = { ...user, hasUsablePassword: false };

  it("emits password_set for a user without a usable password, without a current password", async () => {
    const { snapshot, saved, seen } = await run(passwordSetMachine, { sessionUser: passwordless, current: null });
    expect(snapshot.value).toBe("done");
    expect(seen.map((s) => s.type)).toEqual(["password_set"]);
    expect(saved[0]!.currentPassword).toBeNull();
  });

  it("hands a typed current password to the actor, which refuses it (allauth's enter_current_password)", async () => {
    const { snapshot, saved, seen } = await run(passwordSetMachine, {
      sessionUser: passwordless,
      fail: { code: "enter_current_password", param: "current_password" },
    });
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "enter_current_password", param: "current_password" });
    expect(saved[0]!.currentPassword?.reveal()).toBe("old password here!");
    expect(seen).toEqual([]);
  });

  it("emits user_logged_out then password_set with logoutOnPasswordChange", async () => {
    const { seen } = await run(passwordSetMachine, { sessionUser: passwordless, logout: true });
    expect(seen.map((s) => s.type)).toEqual(["user_logged_out", "password_set"]);
  });

  it("refuses a user who already has a usable password", async () => {
    const { snapshot, saved, seen } = await run(passwordSetMachine, { sessionUser: user });
    expect(snapshot.value).toBe("conflict");
    expect(saved).toEqual([]);
    expect(seen).toEqual([]);
  });
});
