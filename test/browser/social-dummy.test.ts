/**
 * The dummy provider in headless Chromium against the demo: "Sign in with Dummy" posts the
 * redirect form, the dummy page signs up a person with an unverified address, the mailed link
 * verifies it and logs them in, and after a logout the same Account ID comes back as the same
 * user with no new mail. Each phase emits allauth's signals in allauth's order. The dummy page's
 * Cancel comes back to the demo's callback page, which says so; with no email from the provider
 * the provider signup page asks for one.
 */
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/browser.ts";
import { openDemo, ready, statusText, visit } from "../support/demo.ts";
import type { DemoSession } from "../support/demo.ts";

let s: DemoSession;

beforeAll(async () => {
  s = await openDemo("dummy");
}, 60_000);

afterAll(async () => {
  await s?.close();
});

const escaped = (text: string) => text.replace(/[.?]/g, (c) => `\\${c}`);

/** From the demo's login page to the dummy provider's page, through the real form POST. */
async function continueWithDummy(): Promise<void> {
  const { page, demo } = s;
  await visit(page, demo.origin, "/login");
  await page.getByRole("button", { name: "Sign in with Dummy" }).click();
  await page.waitForURL(new RegExp(`^${escaped(demo.origin)}/accounts/dummy/login/\\?state=[^&]+$`));
  await eventually(() => page.textContent("h1")).toBe("Dummy provider");
}

async function loginAtDummy(values: { readonly id: string; readonly email: string }): Promise<void> {
  const { page } = s;
  await page.getByLabel("Account ID").fill(values.id);
  await page.fill("#id_email", values.email);
  expect(await page.getByLabel("Email verified").isChecked()).toBe(false);
  await page.getByRole("button", { name: "Login" }).click();
}

async function socialAccounts(): Promise<ReadonlyArray<{ provider: string; uid: string; user_id: string }>> {
  return s.demo.auth.runtime.runPromise(
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ provider: string; uid: string; user_id: string }>`SELECT provider, uid, user_id FROM auth_social_account`),
  );
}

async function logOut(): Promise<void> {
  const { page, demo } = s;
  await visit(page, demo.origin, "/logout");
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(`${demo.origin}/`);
  await ready(page);
  await statusText(page).toBe("You are logged out.");
}

describe("the dummy provider against the demo, in headless Chromium", () => {
  const email = "dummy.person@example.com";

  it("signs up through the dummy page with an unverified address: a verification mail, no login", { timeout: 60_000 }, async () => {
    const { page, demo } = s;
    await continueWithDummy();
    await loginAtDummy({ id: "42", email });

    await page.waitForURL(`${demo.origin}/verify-email`);
    await ready(page);
    await statusText(page).toBe("Almost there: check your inbox to verify your email address.");
    expect(await page.textContent("#who")).toBe("Not logged in: your email address awaits verification");
    expect(s.takeSignals()).toEqual(["pre_social_login", "user_signed_up", "email_confirmation_sent"]);
    const [account] = await socialAccounts();
    expect(account).toMatchObject({ provider: "dummy", uid: "42" });
  });

  it("the mailed link, opened in the browser, verifies the address and logs the user in", { timeout: 60_000 }, async () => {
    const { page, demo } = s;
    const [mail] = await demo.mailbox.waitFor(1);
    expect(mail!.to).toBe(email);
    expect(mail!.url).toMatch(new RegExp(`^${escaped(demo.origin)}/account/verify-email/[A-Za-z0-9_%-]+$`));
    await visit(page, demo.origin, new URL(mail!.url!).pathname);
    expect(await page.textContent("#verify-key-info")).toBe(`Confirm that ${email} is your email address.`);
    await page.getByRole("button", { name: "Confirm" }).click();
    await page.waitForURL(`${demo.origin}/`);
    await ready(page);
    await statusText(page).toBe(`Thanks, ${email} is verified. You are logged in as ${email}.`);
    expect(s.takeSignals()).toEqual(["email_confirmed", "user_logged_in"]);
  });

  it("a returning login with the same Account ID is the same user, with no new mail", { timeout: 60_000 }, async () => {
    const { page, demo } = s;
    await logOut();
    expect(s.takeSignals()).toEqual(["user_logged_out"]);
    await continueWithDummy();
    await loginAtDummy({ id: "42", email });
    await page.waitForURL(`${demo.origin}/`);
    await ready(page);
    await statusText(page).toBe(`You are logged in as ${email}.`);
    expect(s.takeSignals()).toEqual(["social_account_updated", "pre_social_login", "user_logged_in"]);
    await demo.auth.outbox.drain();
    expect(demo.mailbox.mails).toHaveLength(1);
    expect(await socialAccounts()).toHaveLength(1);
  });

  it("Cancel on the dummy page comes back to the callback page, which says so; nothing else happens", { timeout: 60_000 }, async () => {
    const { page, demo } = s;
    await continueWithDummy();
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.waitForURL(`${demo.origin}/account/provider/callback?error=cancelled&error_process=login`);
    await ready(page);
    await statusText(page).toBe("You cancelled signing in at the provider.");
    expect(await page.textContent("#who")).toBe(`Logged in as ${email}`);
    expect(s.takeSignals()).toEqual([]);
  });

  it("with no email from the provider, the provider signup page asks for one, and signs up", { timeout: 60_000 }, async () => {
    const { page, demo } = s;
    const other = "no.email.at.dummy@example.com";
    await logOut();
    s.takeSignals();
    await continueWithDummy();
    await loginAtDummy({ id: "43", email: "" });

    await page.waitForURL(`${demo.origin}/account/provider/signup`);
    await ready(page);
    expect(await page.textContent("#provider-signup-info")).toBe("You signed in with Dummy. Choose the email address for your new account.");
    expect(s.takeSignals()).toEqual(["pre_social_login"]);
    expect(await page.inputValue("#provider-signup-email")).toBe("");
    await page.getByLabel("Email address").fill(other);
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.waitForURL(`${demo.origin}/verify-email`);
    await ready(page);
    await statusText(page).toBe(`Thanks for signing up. Check your inbox to verify ${other}.`);
    expect(s.takeSignals()).toEqual(["user_signed_up", "email_confirmation_sent"]);
    const mails = await demo.mailbox.waitFor(2);
    expect(mails[1]!.to).toBe(other);
    expect((await socialAccounts()).map((a) => a.uid).sort()).toEqual(["42", "43"]);
  });
});
