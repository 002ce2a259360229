/**
 * An interrupted step never half-commits (SECURITY.md DD-06): a password reset whose request is
 * aborted (the client goes away) while the new password is hashed, or while an in-step receiver
 * runs after the step's writes, ends with all of "password changed, key used, other sessions
 * ended" or none of it. Aborted before its commit point, none of it: the key still resets once.
 */
import { afterEach, describe, expect, it } from "vitest";
import { goodPassword, harness } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import { fastHasher } from "../http/support.ts";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const newPassword = "the new passphrase 99";

/** A gate the test opens: `entered` resolves once something waits at it. */
function gate() {
  let open = () => {};
  let entered = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  const reached = new Promise<void>((resolve) => (entered = resolve));
  return { open, reached, wait: () => (entered(), opened) };
}

async function resetRequest(key: string, signal: AbortSignal): Promise<Response> {
  return h.auth.handler(
    new Request("http://127.0.0.1/_allauth/app/v1/auth/password/reset", {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "vitest" },
      body: JSON.stringify({ key, password: newPassword }),
      signal,
    }),
    { ip: "10.4.0.1" },
  );
}

/** "Changed, used, ended" all hold, or none does. */
async function wholeOrNothing(owner: Client): Promise<"whole" | "nothing"> {
  const [user] = await h.query<{ password: string }>("SELECT password FROM auth_user");
  const changed = user!.password === `fast$${newPassword}`;
  const ended = (await owner.request("GET", "auth/session")).status !== 200;
  expect(ended).toBe(changed);
  expect(user!.password).toBe(changed ? `fast$${newPassword}` : `fast$${goodPassword}`);
  return changed ? "whole" : "nothing";
}

describe("a password reset interrupted by its client (DD-06)", () => {
  for (const point of ["while hashing", "in an in-step receiver"] as const) {
    it(`aborted ${point}: all of it or none of it`, async () => {
      const at = gate();
      const hasher = {
        hash: async (password: string) => {
          if (point === "while hashing" && password === newPassword) await at.wait();
          return fastHasher.hash(password);
        },
        verify: fastHasher.verify,
      };
      h = await harness({ account: { loginMethods: ["email"], emailVerification: "none" }, passwordHasher: hasher, outbox: { pollIntervalMs: false } });
      const owner = h.app();
      expect((await owner.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
      await h.app().request("POST", "auth/password/request", { email: "ann@example.com" });
      const key = decodeURIComponent(/password\/reset\/key\/(\S+)/.exec(h.takeMails().at(-1)!.text)![1]!);
      h.takeSignals();
      if (point === "in an in-step receiver") {
        h.auth.signals.on("password_reset", () => at.wait());
      }
      const abort = new AbortController();
      const answer = resetRequest(key, abort.signal);
      await at.reached;
      abort.abort();
      at.open();
      await answer;
      await h.auth.outbox.settled();
      const outcome = await wholeOrNothing(owner);
      if (point === "while hashing") expect(outcome).toBe("nothing");
      const again = await h.app().request("POST", "auth/password/reset", { key, password: newPassword });
      if (outcome === "nothing") {
        // Aborted before the commit point: the key was not used.
        expect(point).toBe("while hashing");
        expect(again.status).toBe(401);
        expect(await wholeOrNothing(owner)).toBe("whole");
      } else {
        expect(again.status).toBe(400);
      }
    });
  }
});
