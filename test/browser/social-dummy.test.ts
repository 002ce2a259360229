/**
 * The dummy provider in headless Chromium against the demo (mail over real SMTP): "Continue with
 * Dummy" posts the redirect form, the dummy page signs up a person with an unverified address,
 * the mailed link verifies it and logs them in, and after a logout the same Account ID comes back
 * as the same user with no new mail. Each phase emits allauth's signals in allauth's order. The
 * dummy page's Cancel comes back to the frontend's callback page with the error.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemo } from "../../examples/demo/app.ts";
import type { Demo } from "../../examples/demo/app.ts";
import { authSignalNames } from "../../machines/signals.ts";
import type { AuthSignal } from "../../machines/signals.ts";
import { eventually, launchChromium } from "../support/browser.ts";
import { testSecret } from "../support/harness.ts";
import { startSink } from "../support/smtp-sink.ts";
import type { Sink } from "../support/smtp-sink.ts";

const dir = mkdtempSync(join(tmpdir(), "authmachines-social-browser-"));
const signals: Array<AuthSignal> = [];
let sink: Sink;
let demo: Demo;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  sink = await startSink();
  demo = await startDemo({ port: 0, secret: testSecret, database: `sqlite:${join(dir, "demo.db")}`, mailer: `smtp://127.0.0.1:${sink.port}` });
  for (const name of authSignalNames) {
    demo.auth.signals.on(name, (payload) => void signals.push(payload as AuthSignal));
  }
  ({ context, page } = await launchChromium(join(dir, "profile")));
}, 60_000);

afterAll(async () => {
  await context?.close();
  await demo?.close();
  await sink?.close();
  rmSync(dir, { recursive: true, force: true });
});

function takeSignals(): Array<AuthSignal> {
  return signals.splice(0);
}

const escaped = (text: string) => text.replace(/[.?]/g, (c) => `\\${c}`);

/** From the demo's home page to the dummy provider's page, through the real form POST. */
async function continueWithDummy(): Promise<void> {
  await page.goto(`${demo.origin}/`);
  await page.click("#social button");
  await page.waitForURL(new RegExp(`^${escaped(demo.origin)}/accounts/dummy/login/\\?state=[^&]+$`));
  await eventually(() => page.textContent("h1")).toBe("Dummy provider");
}

async function loginAtDummy(values: { readonly id: string; readonly email: string }): Promise<void> {
  await page.getByLabel("Account ID").fill(values.id);
  await page.fill("#id_email", values.email);
  expect(await page.getByLabel("Email verified").isChecked()).toBe(false);
  await page.getByRole("button", { name: "Login" }).click();
}

async function socialAccounts(): Promise<ReadonlyArray<{ provider: string; uid: string; user_id: string }>> {
  return demo.auth.runtime.runPromise(
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ provider: string; uid: string; user_id: string }>`SELECT provider, uid, user_id FROM auth_social_account`),
  );
}

describe("the dummy provider against the demo, in headless Chromium", () => {
  const email = "dummy.person@example.com";
  let userId = "";

  it("signs up through the dummy page with an unverified address: a verification mail, no login", { timeout: 120_000 }, async () => {
    await page.goto(`${demo.origin}/`);
    await eventually(() => page.textContent("#who")).toBe("Not logged in");
    takeSignals();
    await continueWithDummy();
    await loginAtDummy({ id: "42", email });

    await page.waitForURL(`${demo.origin}/account/provider/callback`);
    await eventually(() => page.textContent("#status")).toBe("A verification mail was sent; open its link to finish.");
    await eventually(() => page.textContent("#who")).toBe("Not logged in (pending: verify_email)");
    const signup = takeSignals();
    expect(signup.map((s) => s.type)).toEqual(["pre_social_login", "user_signed_up", "email_confirmation_sent"]);
    const signedUp = signup[1] as Extract<AuthSignal, { type: "user_signed_up" }>;
    expect(signedUp.user.email).toBe(email);
    expect(signedUp.socialLogin).toMatchObject({ provider: "dummy", uid: "42" });
    userId = signedUp.user.id;
    expect(await socialAccounts()).toEqual([{ provider: "dummy", uid: "42", user_id: userId }]);
  });

  it("the mailed link, opened in the browser, verifies the address and logs the user in", { timeout: 120_000 }, async () => {
    await sink.waitFor(1);
    const [message] = sink.messages;
    expect(message!.rcptTo).toEqual([email]);
    const links = (message!.parsed.text ?? "").match(/https?:\/\/\S+/g) ?? [];
    expect(links).toEqual([expect.stringMatching(new RegExp(`^${escaped(demo.origin)}/account/verify-email/[A-Za-z0-9_%-]+$`))]);

    await page.goto(links[0]!);
    await eventually(() => page.textContent("#verify-email")).toBe(email);
    await page.click("#verify button");
    await eventually(() => page.textContent("#status")).toBe("Email confirmed.");
    await eventually(() => page.textContent("#who")).toBe(`Logged in as ${email}`);
    const verification = takeSignals();
    expect(verification.map((s) => s.type)).toEqual(["email_confirmed", "user_logged_in"]);
    expect(verification[1]).toMatchObject({ type: "user_logged_in", user: { id: userId } });
  });

  it("logs out through the page", { timeout: 120_000 }, async () => {
    await page.goto(`${demo.origin}/`);
    await eventually(() => page.textContent("#who")).toBe(`Logged in as ${email}`);
    await page.click("#logout");
    await eventually(() => page.textContent("#who")).toBe("Not logged in");
    const logout = takeSignals();
    expect(logout.map((s) => s.type)).toEqual(["user_logged_out"]);
    expect(logout[0]).toMatchObject({ user: { id: userId } });
  });

  it("a returning login with the same Account ID is the same user, with no new mail", { timeout: 120_000 }, async () => {
    await continueWithDummy();
    await loginAtDummy({ id: "42", email });

    await page.waitForURL(`${demo.origin}/account/provider/callback`);
    await eventually(() => page.textContent("#status")).toBe(`Logged in as ${email}`);
    await eventually(() => page.textContent("#who")).toBe(`Logged in as ${email}`);
    const returning = takeSignals();
    expect(returning.map((s) => s.type)).toEqual(["social_account_updated", "pre_social_login", "user_logged_in"]);
    expect(returning[2]).toMatchObject({ user: { id: userId }, socialLogin: { provider: "dummy", uid: "42", userId, isExisting: true } });
    await demo.auth.outbox.drain();
    expect(sink.messages).toHaveLength(1);
    expect(await socialAccounts()).toEqual([{ provider: "dummy", uid: "42", user_id: userId }]);
  });

  it("Cancel on the dummy page comes back with error=cancelled, which the page shows; nothing else happens", { timeout: 120_000 }, async () => {
    await continueWithDummy();
    await page.getByRole("button", { name: "Cancel" }).click();

    await page.waitForURL(`${demo.origin}/account/provider/callback?error=cancelled&error_process=login`);
    await eventually(() => page.textContent("#status")).toBe("Provider login failed: cancelled");
    await eventually(() => page.textContent("#who")).toBe(`Logged in as ${email}`);
    expect(takeSignals()).toEqual([]);
  });

  it("with no email from the provider, the callback page shows the provider signup form, which signs up", { timeout: 120_000 }, async () => {
    const other = "no.email.at.dummy@example.com";
    await page.goto(`${demo.origin}/`);
    await eventually(() => page.textContent("#who")).toBe(`Logged in as ${email}`);
    await page.click("#logout");
    await eventually(() => page.textContent("#who")).toBe("Not logged in");
    takeSignals();
    await continueWithDummy();
    await loginAtDummy({ id: "43", email: "" });

    await page.waitForURL(`${demo.origin}/account/provider/callback`);
    await eventually(() => page.textContent("#status")).toBe("Choose the email address for your new account.");
    await eventually(() => page.textContent("#provider-name")).toBe("Dummy");
    expect(takeSignals().map((s) => s.type)).toEqual(["pre_social_login"]);
    expect(await page.inputValue("#provider-signup input[name=email]")).toBe("");
    await page.fill("#provider-signup input[name=email]", other);
    await page.click("#provider-signup button");
    await eventually(() => page.textContent("#status")).toBe("A verification mail was sent; open its link to finish.");
    await eventually(() => page.isHidden("#provider-signup")).toBe(true);
    expect(takeSignals().map((s) => s.type)).toEqual(["user_signed_up", "email_confirmation_sent"]);
    await sink.waitFor(2);
    expect(sink.messages[1]!.rcptTo).toEqual([other]);
    expect((await socialAccounts()).map((a) => a.uid).sort()).toEqual(["42", "43"]);
  });
});
