/**
 * ALLAUTH-ERRORS.md §5, POST auth/reauthenticate, for the app and the browser client: 401 for
 * nobody, the `reauthenticate` limit before the body, then `password` errors, which carry
 * `param: "password"` (also `too_many_login_attempts`, raised in the form's field clean).
 */
import { describe, expect, it } from "vitest";
import { goodPassword } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import { clients, client, err, expectAllauthErrors, expectBareStatus, text, withoutWrites, perTest, signedUp } from "./support.ts";

let h: Harness;
const open = perTest((opened) => (h = opened));

const reauthenticate = (c: Client, body: unknown) => c.request("POST", "auth/reauthenticate", body);

describe.each(clients)("POST auth/reauthenticate (%s client)", (kind) => {
  it("401 when nobody is logged in, whatever the body", async () => {
    await open();
    const c = client(h, kind);
    const res = await withoutWrites(h, () => reauthenticate(c, { password: "" }));
    expect(res.status).toBe(401);
    expect(res.body).not.toHaveProperty("errors");
    expect(res.body.meta.is_authenticated).toBe(false);
  });

  it("400 required on a missing or empty password", async () => {
    await open();
    const c = await signedUp(h, kind);
    for (const body of [{}, { password: "" }, { password: null }]) {
      expectAllauthErrors(await withoutWrites(h, () => reauthenticate(c, body)), [err("required", text.required, "password")]);
    }
  });

  it("400 incorrect_password on password, also for a user without a usable password", async () => {
    await open();
    const c = await signedUp(h, kind);
    const wrong = await withoutWrites(h, () => reauthenticate(c, { password: "not the password at all" }));
    expectAllauthErrors(wrong, [err("incorrect_password", "Incorrect password.", "password")]);
    await h.query("UPDATE auth_user SET password = '!unusable'");
    const none = await withoutWrites(h, () => reauthenticate(c, { password: goodPassword }));
    expectAllauthErrors(none, [err("incorrect_password", "Incorrect password.", "password")]);
  });

  it("400 too_many_login_attempts WITH param password once login_failed is spent, even for the right password", async () => {
    await open();
    const c = await signedUp(h, kind);
    for (let i = 0; i < 5; i++) {
      await reauthenticate(c, { password: `wrong password ${i}` });
    }
    const res = await withoutWrites(h, () => reauthenticate(c, { password: goodPassword }));
    expectAllauthErrors(res, [err("too_many_login_attempts", text.tooManyLogins, "password")]);
  });

  it("429 for the reauthenticate limit, before the body is read", async () => {
    await open({ rateLimits: { reauthenticate: "1/m/user" } });
    const c = await signedUp(h, kind);
    expectAllauthErrors(await reauthenticate(c, {}), [err("required", text.required, "password")]);
    expectBareStatus(await withoutWrites(h, () => reauthenticate(c, { password: goodPassword })), 429);
    expectBareStatus(await withoutWrites(h, () => reauthenticate(c, "{")), 429);
  });

  it("200 and a `reauthenticated` record for the right password", async () => {
    await open();
    const c = await signedUp(h, kind);
    const res = await reauthenticate(c, { password: goodPassword });
    expect(res.status).toBe(200);
    expect(res.body.data.methods.at(-1)).toMatchObject({ method: "password", reauthenticated: true });
    expect(h.takeSignals()).toEqual([]);
  });
});
