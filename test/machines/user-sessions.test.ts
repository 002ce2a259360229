import { createActor, fromPromise, waitFor } from "xstate";
import { describe, expect, it } from "vitest";
import type { EndSessionsInput } from "../../machines/contracts.ts";
import type { AuthSignal, UserRef } from "../../machines/signals.ts";
import { userSessionsMachine } from "../../machines/user-sessions.ts";
import { settings } from "./support.ts";

const ann: UserRef = { id: "u1", username: null, email: "ann@example.com", isActive: true, hasUsablePassword: true };

async function end(sessionUser: UserRef | null, sessionIds: Array<number>, fails = false) {
  const calls: Array<EndSessionsInput> = [];
  const actor = createActor(
    userSessionsMachine.provide({
      actors: {
        endSessions: fromPromise(async ({ input }: { input: EndSessionsInput }) => {
          calls.push(input);
          if (fails) {
            throw new Error("db down");
          }
        }),
      },
    }),
    { input: { settings: settings(), sessionUser, currentSessionId: 7 } },
  );
  const seen: Array<AuthSignal> = [];
  actor.on("*", (signal) => void seen.push(signal));
  actor.start();
  actor.send({ type: "END", sessionIds });
  const snapshot = await waitFor(actor, (s) => s.status === "done");
  return { snapshot, calls, seen };
}

describe("user-sessions machine", () => {
  it("ends other sessions without any signal", async () => {
    const { snapshot, calls, seen } = await end(ann, [3, 4]);
    expect(snapshot.value).toBe("done");
    expect(calls).toEqual([{ userId: "u1", sessionIds: [3, 4], includesCurrent: false }]);
    expect(seen).toEqual([]);
  });

  it("treats the current session among them as a logout: user_logged_out before the sessions end", async () => {
    const { snapshot, calls, seen } = await end(ann, [3, 7]);
    expect(snapshot.value).toBe("loggedOut");
    expect(seen).toEqual([{ type: "user_logged_out", user: ann }]);
    expect(calls).toEqual([{ userId: "u1", sessionIds: [3, 7], includesCurrent: true }]);
  });

  it("does nothing for an anonymous session", async () => {
    const { snapshot, calls, seen } = await end(null, [7]);
    expect(snapshot.value).toBe("unauthenticated");
    expect(calls).toEqual([]);
    expect(seen).toEqual([]);
  });

  it("ends failed when the sessions cannot be ended, from either path", async () => {
    expect((await end(ann, [3], true)).snapshot.value).toBe("failed");
    expect((await end(ann, [7], true)).snapshot.value).toBe("failed");
  });

  it("has exactly the states these tests reach", () => {
    expect(Object.keys(userSessionsMachine.root.states).sort()).toEqual(
      ["done", "ending", "endingWithCurrent", "failed", "idle", "loggedOut", "unauthenticated"].sort(),
    );
  });
});
