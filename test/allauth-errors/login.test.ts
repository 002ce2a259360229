/**
 * ALLAUTH-ERRORS.md §3, POST auth/login: every row (phone rows aside: no phone login here), for
 * the app and the browser client. Each refusal is checked whole (status, the exact `errors`, a
 * `param` only where allauth sends one), and writes no data row, mails nothing, emits nothing.
 */
import { TestContext } from "effect";
import { describe, expect, it } from "vitest";
import { advance } from "../http/support.ts";
import { goodPassword } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import { clients, client, err, expectAllauthErrors, expectBareStatus, text, withoutWrites, perTest, signedUp } from "./support.ts";

let h: Harness;
const open = perTest((opened) => (h = opened));
const openClocked = perTest((opened) => (h = opened), { layer: TestContext.TestContext });

const login = (c: Client, body: unknown) => c.request("POST", "auth/login", body);

describe.each(clients)("POST auth/login (%s client)", (kind) => {
  it("400 required on the one login method's field (email), and on password, in that order", async () => {
    await open();
    await signedUp(h, "app", {}, [200, 401]);
    const c = client(h, kind);
    const res = await withoutWrites(h, () => login(c, {}));
    expectAllauthErrors(res, [err("required", text.required, "email"), err("required", text.required, "password")]);
    expectAllauthErrors(await login(c, { email: "", password: goodPassword }), [err("required", text.required, "email")]);
  });

  it("400 required on username when username is the one method; an email sent there is ignored", async () => {
    await open({ loginMethods: ["username"] });
    await signedUp(h, "app", { username: "ann" }, [200, 401]);
    const c = client(h, kind);
    const res = await withoutWrites(h, () => login(c, { email: "ann@example.com", password: goodPassword }));
    expectAllauthErrors(res, [err("required", text.required, "username")]);
  });

  it("400 required on a missing or empty password", async () => {
    await open();
    await signedUp(h, "app", {}, [200, 401]);
    const c = client(h, kind);
    for (const body of [{ email: "ann@example.com" }, { email: "ann@example.com", password: "" }]) {
      const res = await withoutWrites(h, () => login(c, body));
      expectAllauthErrors(res, [err("required", text.required, "password")]);
    }
  });

  it("400 invalid on a malformed email, before any password check", async () => {
    await open();
    await signedUp(h, "app", {}, [200, 401]);
    const c = client(h, kind);
    const res = await withoutWrites(h, () => login(c, { email: "ann(at)example.com", password: "" }));
    expectAllauthErrors(res, [err("invalid", text.invalidEmail, "email"), err("required", text.required, "password")]);
  });

  it("400 invalid_login (no param) for zero identifiers or more than one identifier key", async () => {
    await open({ loginMethods: ["email", "username"], signupFields: ["email*", "username*", "password1*"] });
    await signedUp(h, "app", { username: "ann" }, [200, 401]);
    const c = client(h, kind);
    const invalidLogin = [err("invalid_login", "Invalid login.")];
    for (const body of [
      { password: goodPassword },
      { email: "ann@example.com", username: "ann", password: goodPassword },
      // An empty email next to the username is a second key all the same.
      { email: "", username: "ann", password: goodPassword },
    ]) {
      expectAllauthErrors(await withoutWrites(h, () => login(c, body)), invalidLogin);
    }
  });

  it("400 email_password_mismatch on password: a wrong password and an unknown email look the same", async () => {
    await open();
    await signedUp(h, "app", {}, [200, 401]);
    const c = client(h, kind);
    const mismatch = [err("email_password_mismatch", "The email address and/or password you specified are not correct.", "password")];
    const wrong = await withoutWrites(h, () => login(c, { email: "ann@example.com", password: "not the password at all" }));
    expectAllauthErrors(wrong, mismatch);
    const unknown = await withoutWrites(h, () => login(c, { email: "nobody@example.com", password: goodPassword }));
    expectAllauthErrors(unknown, mismatch);
  });

  it("400 username_password_mismatch on password with a username", async () => {
    await open({ loginMethods: ["username"] });
    await signedUp(h, "app", { username: "ann" }, [200, 401]);
    const c = client(h, kind);
    const res = await withoutWrites(h, () => login(c, { username: "ann", password: "not the password at all" }));
    expectAllauthErrors(res, [err("username_password_mismatch", "The username and/or password you specified are not correct.", "password")]);
  });

  it("400 too_many_login_attempts (no param) once the login_failed bucket is spent, even with the right password", async () => {
    await open();
    await signedUp(h, "app", {}, [200, 401]);
    for (let i = 0; i < 5; i++) {
      await login(client(h, kind), { email: "ann@example.com", password: `wrong password ${i}` });
    }
    const c = client(h, kind);
    const res = await withoutWrites(h, () => login(c, { email: "ann@example.com", password: goodPassword }));
    expectAllauthErrors(res, [err("too_many_login_attempts", text.tooManyLogins)]);
  });

  it("400 too_many_login_attempts (no param) for the right password while the unverified address's code mail limit is spent", async () => {
    await openClocked({ emailVerification: "mandatory", emailVerificationByCodeEnabled: true });
    // The signup's code mail took the address's `confirm_email` allowance (1/10s).
    await signedUp(h, "app", {}, [401]);
    const c = client(h, kind);
    const res = await withoutWrites(h, () => login(c, { email: "ann@example.com", password: goodPassword }));
    expectAllauthErrors(res, [err("too_many_login_attempts", text.tooManyLogins)]);
    expect(h.takeMails()).toEqual([]);
    // A wrong password is still a mismatch; once the limit has passed, the login mails a code.
    const wrong = await login(c, { email: "ann@example.com", password: "not the password at all" });
    expectAllauthErrors(wrong, [err("email_password_mismatch", "The email address and/or password you specified are not correct.", "password")]);
    await advance(h, "11 seconds");
    const later = await login(c, { email: "ann@example.com", password: goodPassword });
    expect(later.status).toBe(401);
    expect(later.body.data.flows).toContainEqual({ id: "verify_email", is_pending: true });
    expect(h.takeMails()).toHaveLength(1);
    expect(h.takeSignals()).toEqual(["email_confirmation_sent"]);
  });

  it("401 with no error for the right password of an inactive account; the wrong one is a mismatch", async () => {
    await open();
    await signedUp(h, "app", {}, [200, 401]);
    await h.query("UPDATE auth_user SET is_active = 0");
    const c = client(h, kind);
    // Not a refusal: the password step is recorded (allauth too), the login stalls, nobody is in.
    const res = await login(c, { email: "ann@example.com", password: goodPassword });
    expect(res.status).toBe(401);
    expect(res.body).not.toHaveProperty("errors");
    expect(res.body.meta.is_authenticated).toBe(false);
    expect(h.takeSignals()).toEqual([]);
    const wrong = await login(c, { email: "ann@example.com", password: "not the password at all" });
    expectAllauthErrors(wrong, [err("email_password_mismatch", "The email address and/or password you specified are not correct.", "password")]);
  });

  it("401 with the pending stage and no error when the login stalls at email verification", async () => {
    await open({ emailVerification: "mandatory" });
    await signedUp(h, "app", {}, [200, 401]);
    const c = client(h, kind);
    const res = await login(c, { email: "ann@example.com", password: goodPassword });
    expect(res.status).toBe(401);
    expect(res.body).not.toHaveProperty("errors");
    expect(res.body.data.flows).toContainEqual({ id: "verify_email", is_pending: true });
    // The signup's mail went out moments ago: within its cooldown no second one is sent.
    expect(h.takeSignals()).toEqual([]);
  });

  it("409 for valid credentials while logged in; bad input and wrong credentials are still 400 first", async () => {
    await open();
    await signedUp(h, "app", {}, [200, 401]);
    const c = client(h, kind);
    expect((await login(c, { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    h.takeSignals();
    expectAllauthErrors(await withoutWrites(h, () => login(c, { email: "ann@example.com" })), [
      err("required", text.required, "password"),
    ]);
    expectAllauthErrors(await withoutWrites(h, () => login(c, { email: "ann@example.com", password: "not the password at all" })), [
      err("email_password_mismatch", "The email address and/or password you specified are not correct.", "password"),
    ]);
    expectBareStatus(await withoutWrites(h, () => login(c, { email: "ann@example.com", password: goodPassword })), 409);
  });

  it("429 for the login limit, taken before the body is read", async () => {
    await open({ rateLimits: { login: "1/m/ip" } });
    await signedUp(h, "app", {}, [200, 401]);
    const c = client(h, kind);
    expect((await login(c, { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    h.takeSignals();
    const other = client(h, kind);
    // Same IP? Each harness client has its own IP, so spend this client's one request first.
    expectAllauthErrors(await login(other, {}), [err("required", text.required, "email"), err("required", text.required, "password")]);
    expectBareStatus(await withoutWrites(h, () => login(other, {})), 429);
    expectBareStatus(await withoutWrites(h, () => login(other, "not json")), 429);
  });
});
