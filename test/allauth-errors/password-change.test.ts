/**
 * ALLAUTH-ERRORS.md §15, POST account/password/change, for the app and the browser client: 401
 * for nobody, the `change_password` limit before the body, then every field error at once in
 * field order (`current_password`, then `new_password` with each failing password rule).
 */
import { describe, expect, it } from "vitest";
import { goodPassword } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import { clients, client, err, expectAllauthErrors, expectBareStatus, text, withoutWrites, perTest, signedUp } from "./support.ts";

let h: Harness;
const open = perTest((opened) => (h = opened));
const newPassword = "another long passphrase 77";
const enterCurrent = err("enter_current_password", "Please type your current password.", "current_password");

const change = (c: Client, body: unknown) => c.request("POST", "account/password/change", body);

describe.each(clients)("POST account/password/change (%s client)", (kind) => {
  it("401 when nobody is logged in", async () => {
    await open();
    const c = client(h, kind);
    const res = await withoutWrites(h, () => change(c, { current_password: goodPassword, new_password: newPassword }));
    expect(res.status).toBe(401);
    expect(res.body).not.toHaveProperty("errors");
  });

  it("400 required on current_password (missing or empty) and on new_password, in field order", async () => {
    await open();
    const c = await signedUp(h, kind);
    expectAllauthErrors(await withoutWrites(h, () => change(c, {})), [
      err("required", text.required, "current_password"),
      err("required", text.required, "new_password"),
    ]);
    expectAllauthErrors(await withoutWrites(h, () => change(c, { current_password: "", new_password: newPassword })), [
      err("required", text.required, "current_password"),
    ]);
  });

  it("400 enter_current_password for a wrong current password, reported with the new password's errors", async () => {
    await open();
    const c = await signedUp(h, kind);
    expectAllauthErrors(await withoutWrites(h, () => change(c, { current_password: "not it at all!", new_password: newPassword })), [
      enterCurrent,
    ]);
    expectAllauthErrors(await withoutWrites(h, () => change(c, { current_password: "not it at all!", new_password: "9182" })), [
      enterCurrent,
      err("password_too_short", text.tooShort(15), "new_password"),
      err("password_entirely_numeric", text.numeric, "new_password"),
    ]);
    expectAllauthErrors(await withoutWrites(h, () => change(c, { current_password: "not it at all!" })), [
      enterCurrent,
      err("required", text.required, "new_password"),
    ]);
  });

  it("400 enter_current_password when a user without a usable password types one", async () => {
    await open();
    const c = await signedUp(h, kind);
    await h.query("UPDATE auth_user SET password = '!unusable'");
    const res = await withoutWrites(h, () => change(c, { current_password: goodPassword, new_password: newPassword }));
    expectAllauthErrors(res, [enterCurrent]);
  });

  it("400 on new_password: each failing rule, password_too_similar included", async () => {
    await open();
    const c = await signedUp(h, kind, { email: "averyveryverylongname@example.com" });
    const similar = await withoutWrites(h, () => change(c, { current_password: goodPassword, new_password: "averyveryverylongname" }));
    expectAllauthErrors(similar, [err("password_too_similar", text.similar("email address"), "new_password")]);
    const common = await withoutWrites(h, () => change(c, { current_password: goodPassword, new_password: "123456789012345" }));
    expectAllauthErrors(common, [
      err("password_too_common", text.tooCommon, "new_password"),
      err("password_entirely_numeric", text.numeric, "new_password"),
    ]);
  });

  it("429 for the change_password limit, before the body is read", async () => {
    await open({ rateLimits: { changePassword: "1/m/user" } });
    const c = await signedUp(h, kind);
    expectAllauthErrors(await change(c, {}), [
      err("required", text.required, "current_password"),
      err("required", text.required, "new_password"),
    ]);
    expectBareStatus(await withoutWrites(h, () => change(c, { current_password: goodPassword, new_password: newPassword })), 429);
  });

  it("200 password_changed; a user without a usable password and no current one sets it (password_set)", async () => {
    await open();
    const c = await signedUp(h, kind);
    expect((await change(c, { current_password: goodPassword, new_password: newPassword })).status).toBe(200);
    expect(h.takeSignals()).toEqual(["password_changed"]);
    await h.query("UPDATE auth_user SET password = '!unusable'");
    const set = await change(c, { current_password: "", new_password: goodPassword });
    expect(set.status).toBe(200);
    expect(h.takeSignals()).toEqual(["password_set"]);
  });

  it("401 after the change with logoutOnPasswordChange", async () => {
    await open({ logoutOnPasswordChange: true });
    const c = await signedUp(h, kind);
    const res = await change(c, { current_password: goodPassword, new_password: newPassword });
    expect(res.status).toBe(401);
    expect(res.body).not.toHaveProperty("errors");
    expect(h.takeSignals()).toEqual(["user_logged_out", "password_changed"]);
  });
});
