/**
 * Usernames cannot impersonate one another (SECURITY.md IV-08): only ASCII letters, digits and
 * `@ . + - _` are accepted, compared without case, so a look-alike of a taken name (Cyrillic or
 * fullwidth letters, another case) is refused at signup and names nobody at login.
 */
import { afterEach, describe, expect, it } from "vitest";
import { harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { fastHasher, login, signup } from "../http/support.ts";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("look-alike usernames (IV-08)", () => {
  it("a Cyrillic, fullwidth or differently cased 'admin' is refused while admin exists, and logs nobody in", async () => {
    h = await harness({ account: { loginMethods: ["username"], emailVerification: "none" }, passwordHasher: fastHasher });
    expect((await signup(h.app(), { username: "admin" })).status).toBe(200);
    h.takeSignals();
    const refusals: Array<[string, string]> = [
      ["\u0430dmin", "invalid"],
      ["\uff41dmin", "invalid"],
      ["adm\u0131n", "invalid"],
      ["Admin", "username_taken"],
      ["ADMIN", "username_taken"],
    ];
    for (const [username, code] of refusals) {
      const res = await signup(h.app(), { username });
      expect(res.status, username).toBe(400);
      expect(res.body.errors.map((e: { code: string; param?: string }) => [e.param, e.code]), username).toEqual([["username", code]]);
    }
    expect(await h.count("auth_user")).toBe(1);
    expect(h.takeSignals()).toEqual([]);
    for (const username of ["\u0430dmin", "\uff41dmin"]) {
      expect((await login(h.app(), { username })).status, username).toBe(400);
    }
    expect(h.takeSignals()).toEqual([]);
  });
});
