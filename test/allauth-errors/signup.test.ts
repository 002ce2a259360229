/**
 * ALLAUTH-ERRORS.md §4, POST auth/signup, every implemented row (phone and custom form fields
 * aside) for the app and the browser client: the `signup` limit before the body, every field's
 * errors in `signupFields` order with `password` last and `email2`'s mismatch after them, then
 * 409 for a logged-in session, then 403 when signup is closed.
 */
import { describe, expect, it } from "vitest";
import { goodPassword } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import { clients, client, err, expectAllauthErrors, expectBareStatus, perTest, signedUp, text, withoutWrites } from "./support.ts";

let h: Harness;
const open = perTest((opened) => (h = opened));

const signup = (c: Client, body: unknown) => c.request("POST", "auth/signup", body);
const usernameInvalid = "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";

describe.each(clients)("POST auth/signup (%s client)", (kind) => {
  it("400 required for each required field, in signupFields order, password last", async () => {
    await open({ loginMethods: ["username"], signupFields: ["username*", "email*", "password1*"] });
    const c = client(h, kind);
    expectAllauthErrors(await withoutWrites(h, () => signup(c, {})), [
      err("required", text.required, "username"),
      err("required", text.required, "email"),
      err("required", text.required, "password"),
    ]);
  });

  it("400 invalid email, reported with the other fields' errors", async () => {
    await open();
    const c = client(h, kind);
    expectAllauthErrors(await withoutWrites(h, () => signup(c, { email: "not an address", password: "9182" })), [
      err("invalid", text.invalidEmail, "email"),
      err("password_too_short", text.tooShort(15), "password"),
      err("password_entirely_numeric", text.numeric, "password"),
    ]);
  });

  it("400 email_taken without enumeration prevention, and with it when verification is not mandatory", async () => {
    for (const account of [
      { preventEnumeration: false, emailVerification: "mandatory" as const },
      { preventEnumeration: true, emailVerification: "optional" as const },
    ]) {
      await open(account);
      await signedUp(h, "app", {}, [200, 401]);
      const c = client(h, kind);
      expectAllauthErrors(await withoutWrites(h, () => signup(c, { email: "ANN@example.com", password: goodPassword })), [
        err("email_taken", text.emailTaken, "email"),
      ]);
      await h.close();
    }
  });

  it("401 pending, no error, for a taken address hidden by enumeration prevention (mandatory verification)", async () => {
    await open({ emailVerification: "mandatory" });
    await signedUp(h, "app", {}, [401]);
    const c = client(h, kind);
    const res = await signup(c, { email: "ann@example.com", password: goodPassword });
    expect(res.status).toBe(401);
    expect(res.body).not.toHaveProperty("errors");
    expect(res.body.data.flows).toContainEqual({ id: "verify_email", is_pending: true });
    expect(await h.count("auth_user")).toBe(1);
    expect(h.takeMails().map((m) => m.to)).toEqual(["ann@example.com"]);
  });

  it("400 on username: min_length, max_length, invalid, username_blacklisted, username_taken", async () => {
    await open({
      loginMethods: ["username"],
      signupFields: ["username*", "email", "password1*"],
      usernameMinLength: 3,
      usernameBlacklist: ["Admin"],
    });
    await signedUp(h, "app", { username: "ann" });
    const c = client(h, kind);
    const cases: ReadonlyArray<readonly [string, string, string]> = [
      ["ab", "min_length", text.minLength(3, 2)],
      ["b".repeat(151), "max_length", text.maxLength(150, 151)],
      ["bad name!", "invalid", usernameInvalid],
      ["admin", "username_blacklisted", "Username can not be used. Please use other username."],
      ["ann", "username_taken", "A user with that username already exists."],
    ];
    for (const [username, code, message] of cases) {
      expectAllauthErrors(await withoutWrites(h, () => signup(c, { username, password: goodPassword })), [err(code, message, "username")]);
    }
  });

  it("400 on email2 with code \"\" when it differs (BaseSignupForm.clean), after the field errors", async () => {
    await open({ signupFields: ["email*", "email2*", "password1*"] });
    const c = client(h, kind);
    expectAllauthErrors(await withoutWrites(h, () => signup(c, { email: "ann@example.com", password: goodPassword })), [
      err("required", text.required, "email2"),
    ]);
    expectAllauthErrors(
      await withoutWrites(h, () => signup(c, { email: "ann@example.com", email2: "bob@example.com", password: "9182" })),
      [
        err("password_too_short", text.tooShort(15), "password"),
        err("password_entirely_numeric", text.numeric, "password"),
        err("", "You must type the same email each time.", "email2"),
      ],
    );
    const same = await signup(c, { email: "ann@example.com", email2: "ANN@example.com", password: goodPassword });
    expect(same.status).toBe(200);
  });

  it("400 on password: each failing rule its own error", async () => {
    await open();
    const c = client(h, kind);
    expectAllauthErrors(await withoutWrites(h, () => signup(c, { email: "ann@example.com", password: "password123456789" })), [
      err("password_too_common", text.tooCommon, "password"),
    ]);
    expectAllauthErrors(await withoutWrites(h, () => signup(c, { email: "ann@example.com", password: "123456789012345" })), [
      err("password_too_common", text.tooCommon, "password"),
      err("password_entirely_numeric", text.numeric, "password"),
    ]);
  });

  it("401 with the pending stage and no error on success with mandatory verification", async () => {
    await open({ emailVerification: "mandatory" });
    const c = client(h, kind);
    const res = await signup(c, { email: "ann@example.com", password: goodPassword });
    expect(res.status).toBe(401);
    expect(res.body).not.toHaveProperty("errors");
    expect(h.takeSignals()).toEqual(["user_signed_up", "email_confirmation_sent"]);
  });

  it("403 when signup is closed, only once the input is valid", async () => {
    await open({}, { adapter: { isOpenForSignup: () => false } });
    const c = client(h, kind);
    expectAllauthErrors(await withoutWrites(h, () => signup(c, { email: "ann@example.com" })), [
      err("required", text.required, "password"),
    ]);
    expectBareStatus(await withoutWrites(h, () => signup(c, { email: "ann@example.com", password: goodPassword })), 403);
  });

  it("409 for a logged-in session, after validation and before the 403 of a closed signup", async () => {
    let signupOpen = true;
    await open({}, { adapter: { isOpenForSignup: () => signupOpen } });
    const c = client(h, kind);
    expect((await signup(c, { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    h.takeSignals();
    signupOpen = false;
    expectAllauthErrors(await withoutWrites(h, () => signup(c, { email: "bob@example.com" })), [
      err("required", text.required, "password"),
    ]);
    expectBareStatus(await withoutWrites(h, () => signup(c, { email: "bob@example.com", password: goodPassword })), 409);
  });

  it("429 for the signup limit, before the body is read", async () => {
    await open({ rateLimits: { signup: "1/m/ip" } });
    const c = client(h, kind);
    expectAllauthErrors(await signup(c, {}), [err("required", text.required, "email"), err("required", text.required, "password")]);
    expectBareStatus(await withoutWrites(h, () => signup(c, { email: "ann@example.com", password: goodPassword })), 429);
    expectBareStatus(await withoutWrites(h, () => signup(c, "{")), 429);
  });
});
