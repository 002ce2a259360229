/**
 * ALLAUTH-ERRORS.md §6 (`POST auth/code/request`), §7 (`POST auth/code/confirm`) and §8
 * (`POST auth/code/resend`), row by row, for the app and the browser client.
 */
import { TestContext } from "effect";
import { afterEach, describe, expect, it } from "vitest";
import type { AccountConfig } from "../../src/config.ts";
import { codeFromMail, goodPassword } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import { advance } from "../http/support.ts";
import { client, clients, closeAll, expectErrors, expectStatus, messages, open, writesNothing } from "./code-flow-walk.ts";

afterEach(closeAll);

const base: AccountConfig = { loginMethods: ["email"], emailVerification: "none", loginByCodeEnabled: true };

async function account(h: Harness, email = "ann@example.com"): Promise<void> {
  const c = h.app();
  await c.request("POST", "auth/signup", { email, password: goodPassword });
  await h.query("UPDATE auth_email_address SET verified = 1");
  await c.request("DELETE", "auth/session");
  h.takeMails();
  h.takeSignals();
}

async function pending(h: Harness, c: Client): Promise<string> {
  expect((await c.request("POST", "auth/code/request", { email: "ann@example.com" })).status).toBe(401);
  return codeFromMail(h.takeMails()[0]!);
}

describe.each(clients)("§6 POST auth/code/request (%s)", (kind) => {
  const request = (c: Client, body: unknown) => c.request("POST", "auth/code/request", body);

  it("400 email required", async () => {
    const h = await open(base);
    const res = await writesNothing(h, () => request(client(h, kind), {}));
    expectErrors(res, [{ param: "email", code: "required", message: messages.required }]);
  });

  it("400 email invalid", async () => {
    const h = await open(base);
    const res = await writesNothing(h, () => request(client(h, kind), { email: "not an address" }));
    expectErrors(res, [{ param: "email", code: "invalid", message: messages.invalidEmail }]);
  });

  it("400 unknown_email without enumeration prevention, and no limit taken before it", async () => {
    const h = await open({ ...base, preventEnumeration: false });
    await account(h);
    const res = await writesNothing(h, () => request(client(h, kind), { email: "nobody@example.com" }));
    expectErrors(res, [{ param: "email", code: "unknown_email", message: messages.unknownEmail }]);
  });

  it("400 too_many_login_attempts on email (never 429) once the per-address limit is used, checked after unknown_email", async () => {
    const h = await open({ ...base, preventEnumeration: false });
    await account(h);
    for (let i = 0; i < 3; i++) {
      expect((await request(client(h, kind), { email: "ann@example.com" })).status).toBe(401);
    }
    h.takeMails();
    const limited = await writesNothing(h, () => request(client(h, kind), { email: "ann@example.com" }));
    expectErrors(limited, [{ param: "email", code: "too_many_login_attempts", message: messages.tooManyLoginAttempts }]);
    const unknown = await request(client(h, kind), { email: "nobody@example.com" });
    expectErrors(unknown, [{ param: "email", code: "unknown_email", message: messages.unknownEmail }]);
  });

  it("401 with login_by_code pending: for a known address, and alike for an unknown one under enumeration prevention", async () => {
    const h = await open(base);
    await account(h);
    const known = await request(client(h, kind), { email: "ann@example.com" });
    const unknown = await request(client(h, kind), { email: "nobody@example.com" });
    for (const res of [known, unknown]) {
      expect(res.status).toBe(401);
      expect(res.body.data.flows).toContainEqual({ id: "login_by_code", is_pending: true });
    }
    expect(h.takeMails().map((m) => m.to)).toEqual(["ann@example.com", "nobody@example.com"]);
    expect(h.takeSignals()).toEqual([]);
  });
});

describe.each(clients)("§7 POST auth/code/confirm (%s)", (kind) => {
  const confirm = (c: Client, body: unknown) => c.request("POST", "auth/code/confirm", body);

  it("409 with no pending stage, before the input is read", async () => {
    const h = await open(base);
    await account(h);
    expectStatus(await writesNothing(h, () => confirm(client(h, kind), {})), 409);
  });

  it("409 when the pending stage is another one (verify_email)", async () => {
    const h = await open({ ...base, emailVerification: "mandatory" });
    const c = client(h, kind);
    await c.request("POST", "auth/signup", { email: "bea@example.com", password: goodPassword });
    expectStatus(await confirm(c, { code: "BCDF-GHJK" }), 409);
  });

  it("409 once the process timed out (180 s)", async () => {
    const h = await open(base, { layer: TestContext.TestContext });
    await account(h);
    const c = client(h, kind);
    const code = await pending(h, c);
    await advance(h, "181 seconds");
    expectStatus(await confirm(c, { code }), 409);
    expect(h.takeSignals()).toEqual([]);
  });

  it("400 code required counts; 400 incorrect_code counts; the third still answers 400, the next 409", async () => {
    const h = await open(base);
    await account(h);
    const c = client(h, kind);
    const code = await pending(h, c);
    expectErrors(await writesNothing(h, () => confirm(c, {})), [{ param: "code", code: "required", message: messages.required }]);
    expectErrors(await writesNothing(h, () => confirm(c, { code: "BCDF-GHJK" })), [
      { param: "code", code: "incorrect_code", message: messages.incorrectCode },
    ]);
    expectErrors(await writesNothing(h, () => confirm(c, { code: "BCDF-GHJL" })), [
      { param: "code", code: "incorrect_code", message: messages.incorrectCode },
    ]);
    expectStatus(await writesNothing(h, () => confirm(c, { code })), 409);
  });

  it("400 incorrect_code for every code of an enumeration-prevented unknown address", async () => {
    const h = await open(base);
    const c = client(h, kind);
    await c.request("POST", "auth/code/request", { email: "nobody@example.com" });
    h.takeMails();
    expectErrors(await writesNothing(h, () => confirm(c, { code: "BCDF-GHJK" })), [
      { param: "code", code: "incorrect_code", message: messages.incorrectCode },
    ]);
  });

  it("200 for the right code: user_logged_in", async () => {
    const h = await open(base);
    await account(h);
    const c = client(h, kind);
    const res = await confirm(c, { code: await pending(h, c) });
    expect(res.status).toBe(200);
    expect(h.takeSignals()).toEqual(["user_logged_in"]);
  });
});

describe.each(clients)("§8 POST auth/code/resend (%s)", (kind) => {
  const resend = (c: Client) => c.request("POST", "auth/code/resend");

  it("409 always without loginByCodeSupportsResend", async () => {
    const h = await open(base);
    await account(h);
    const c = client(h, kind);
    await pending(h, c);
    expectStatus(await writesNothing(h, () => resend(c)), 409);
  });

  it("409 with no pending login_by_code stage", async () => {
    const h = await open({ ...base, loginByCodeSupportsResend: true });
    expectStatus(await writesNothing(h, () => resend(client(h, kind))), 409);
  });

  it("200 within the quota (2), then 409", async () => {
    const h = await open({ ...base, loginByCodeSupportsResend: true });
    await account(h);
    const c = client(h, kind);
    await pending(h, c);
    for (let i = 0; i < 2; i++) {
      expectStatus(await resend(c), 200);
      expect(h.takeMails()).toHaveLength(1);
    }
    expectStatus(await writesNothing(h, () => resend(c)), 409);
    expect(h.takeSignals()).toEqual([]);
  });
});
