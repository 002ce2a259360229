/**
 * A deactivated user (SECURITY.md SE-07): once `is_active` is false, the user's next request is
 * anonymous, as Django's `get_user` answers AnonymousUser for an inactive user. The browser's
 * session answers 401, the app's token 401 (the session exists, so not 410), and nothing that
 * needs the user is usable.
 */
import { afterEach, describe, expect, it } from "vitest";
import { goodPassword, harness } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import { fastHasher } from "../http/support.ts";

let h: Harness;

afterEach(async () => {
  await h?.close();
});

async function loggedIn(kind: "browser" | "app"): Promise<Client> {
  h = await harness({ passwordHasher: fastHasher, account: { loginMethods: ["email"], emailVerification: "none" } });
  const client = kind === "browser" ? h.browser() : h.app();
  const res = await client.request("POST", "auth/signup", { email: "alice@example.com", password: goodPassword });
  expect(res.status).toBe(200);
  expect((await client.request("GET", "auth/session")).status).toBe(200);
  return client;
}

describe("SE-07: a deactivated user is anonymous on the next request", () => {
  for (const kind of ["browser", "app"] as const) {
    it(`${kind}: auth/session answers 401 and account endpoints refuse`, async () => {
      const client = await loggedIn(kind);
      await h.query("UPDATE auth_user SET is_active = 0");
      const session = await client.request("GET", "auth/session");
      expect(session.status).toBe(401);
      expect(session.body.meta.is_authenticated).toBe(false);
      expect(session.body.data?.user).toBeUndefined();
      const emails = await client.request("GET", "account/email");
      expect(emails.status).toBe(401);
      const change = await client.request("POST", "account/password/change", {
        current_password: goodPassword,
        new_password: "another horse battery staple 43",
      });
      expect(change.status).toBe(401);
      expect((await h.query<{ password: string }>("SELECT password FROM auth_user"))[0]!.password).toBe(`fast$${goodPassword}`);
      // Reactivated, the same session is the user's again (Django keeps the session row).
      await h.query("UPDATE auth_user SET is_active = 1");
      expect((await client.request("GET", "auth/session")).status).toBe(200);
    });
  }
});
