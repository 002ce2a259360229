/**
 * ALLAUTH-ERRORS.md §1, GET config: no errors, always 200 for both clients, even with a body
 * or a query; the app client with a stale session token gets 410 (§0).
 */
import { afterEach, describe, expect, it } from "vitest";
import { harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { clients, client, withoutWrites } from "./support.ts";

let h: Harness;

afterEach(async () => {
  await h?.close();
});

describe.each(clients)("GET config (%s client)", (kind) => {
  it("200, never an error", async () => {
    h = await harness({ account: { loginMethods: ["email"] } });
    const c = client(h, kind);
    const res = await withoutWrites(h, () => c.request("GET", "config"));
    expect(res.status).toBe(200);
    expect(res.body.status).toBe(200);
    expect(res.body).not.toHaveProperty("errors");
    expect(res.body.data.account.login_methods).toEqual(["email"]);
  });
});

describe("GET config, app client only", () => {
  it("410 for a session token that names no session", async () => {
    h = await harness({ account: { loginMethods: ["email"] } });
    const c = h.app();
    c.token = "stale-token";
    const res = await withoutWrites(h, () => c.request("GET", "config"));
    expect(res.status).toBe(410);
    expect(res.body).not.toHaveProperty("errors");
  });
});
