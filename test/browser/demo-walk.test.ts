/**
 * The demo walked as a new user would, in headless Chromium (link mode, as `npm start` runs it):
 * sign up, find the mail in the mailbox, verify, reach the dashboard; log out and in; connect
 * the Dev IdP, sign in with it, disconnect it, and sign up a new person through it; reset a
 * forgotten password by the mailed link; then the live flow view (`/flows`) shows the signals of
 * that whole walk in order. Each step asserts the words the page shows and the ordered signals
 * it emitted; screenshots go to `test-artifacts/demo/`.
 */
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/browser.ts";
import { expectAccessible, follow, openDemo, openMailbox, ready, statusText, visit } from "../support/demo.ts";
import type { DemoSession } from "../support/demo.ts";

let s: DemoSession;
const email = "reader@example.com";
const first = "a first passphrase for the demo";
const second = "a second, brand new passphrase";
/** A link of the main navigation. */
const nav = (page: DemoSession["page"], name: string) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });
const escaped = (text: string) => text.replace(/[.?]/g, (c) => `\\${c}`);

/** Every signal the walk's steps asserted, in order: what the flow view must show at the end. */
const walk: Array<string> = [];

/** The signals since the last check are exactly `names`, in order. */
function expectSignals(names: ReadonlyArray<string>): void {
  expect(s.takeSignals()).toEqual(names);
  walk.push(...names);
}

beforeAll(async () => {
  s = await openDemo("walk");
}, 60_000);

afterAll(async () => {
  await s?.close();
});

async function logIn(password: string): Promise<void> {
  const { page } = s;
  await follow(page, nav(page, "Log in"));
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
}

async function logOut(): Promise<void> {
  const { page, demo } = s;
  await follow(page, nav(page, "Log out"));
  expect(await page.textContent("#logout-who")).toMatch(/^You are logged in as /);
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(`${demo.origin}/`);
  await ready(page);
  await statusText(page).toBe("You are logged out.");
  expect(await page.textContent("#home-state")).toBe("You are not logged in.");
}

/**
 * At the Dev IdP's login page: sign in as `username`; the first time a person signs in for the
 * demo the IdP asks to share their details (consent), later it remembers the grant.
 */
async function devIdpSignIn(username: string, consent: boolean): Promise<void> {
  const { page } = s;
  await eventually(() => page.textContent("h1")).toBe("Sign in to Dev IdP");
  await page.getByLabel("Username").fill(username);
  await page.getByRole("button", { name: "Sign in" }).click();
  if (consent) {
    await page.getByRole("heading", { name: "Share your details?" }).waitFor();
    expect(await page.textContent("main p")).toContain(`signed in as ${username}`);
    await s.shot(`devidp-consent-${username}`);
    await page.getByRole("button", { name: "Allow" }).click();
  }
}

describe("the demo, walked in headless Chromium", () => {
  it("1. signup, then the mailbox, then verify, then the dashboard", { timeout: 60_000 }, async () => {
    const { page, demo } = s;
    await visit(page, demo.origin, "/");
    expect(await page.textContent("#home-state")).toBe("You are not logged in.");
    expect(await page.textContent("#who")).toBe("Not logged in");
    await s.shot("home");
    await follow(page, nav(page, "Sign up"));
    // A too-short password: the API's error is shown next to the field.
    await page.getByLabel("Email address").fill(email);
    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Sign up" }).click();
    await eventually(() => page.textContent("#signup-password-error")).toMatch(/too short/i);
    expect(await page.getAttribute("#signup-password", "aria-invalid")).toBe("true");
    await s.shot("signup-error");
    expectSignals([]);

    await page.getByLabel("Password").fill(first);
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.waitForURL(`${demo.origin}/verify-email`);
    await ready(page);
    await statusText(page).toBe(`Thanks for signing up. Check your inbox to verify ${email}.`);
    expect(await page.textContent("#verify-pending")).toMatch(/^Check your inbox: open the link in the mail/);
    expect(await page.textContent("#who")).toBe("Not logged in: your email address awaits verification");
    await s.shot("signup-check-inbox");
    expectSignals(["user_signed_up", "email_confirmation_sent"]);

    // The mail goes out just after the answer; then the user opens the mailbox from the navigation.
    await demo.mailbox.waitFor(1);
    await follow(page, nav(page, "Mailbox"));
    await eventually(() => page.textContent("article.mail h2")).toMatch(/Please Confirm Your Email Address/);
    expect(await page.textContent("article.mail .meta")).toContain(`To ${email}`);
    const link = await page.getAttribute("article.mail a.mail-link", "href");
    expect(link).toMatch(new RegExp(`^${escaped(demo.origin)}/account/verify-email/[A-Za-z0-9_%-]+$`));
    await s.shot("mailbox-verification");

    await follow(page, page.getByRole("link", { name: "Open the link" }));
    expect(await page.textContent("#verify-key-info")).toBe(`Confirm that ${email} is your email address.`);
    await s.shot("verify-confirm");
    await page.getByRole("button", { name: "Confirm" }).click();
    await page.waitForURL(`${demo.origin}/`);
    await ready(page);
    await statusText(page).toBe(`Thanks, ${email} is verified. You are logged in as ${email}.`);
    expect(await page.textContent("#home-state")).toBe(`You are logged in as ${email}.`);
    expect(await page.textContent("#who")).toBe(`Logged in as ${email}`);
    await s.shot("dashboard");
    expectSignals(["email_confirmed", "user_logged_in"]);
    // Verified in the database, not only in the page.
    const rows = await demo.auth.runtime.runPromise(
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ verified: number }>`SELECT verified FROM auth_email_address WHERE email = ${email}`),
    );
    expect(rows.map((r) => Number(r.verified))).toEqual([1]);
  });

  it("2. logout, then login (a wrong password first)", { timeout: 60_000 }, async () => {
    const { page, demo } = s;
    await logOut();
    await s.shot("logged-out");
    expectSignals(["user_logged_out"]);

    await logIn("not the password at all");
    await eventually(() => page.textContent('#login [data-error-for="password"]')).toMatch(/password you specified are not correct/);
    await s.shot("login-error");
    await page.getByLabel("Password").fill(first);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(`${demo.origin}/`);
    await ready(page);
    await statusText(page).toBe(`You are logged in as ${email}.`);
    await s.shot("logged-in");
    expectSignals(["user_logged_in"]);
  });

  it("3. Dev IdP: connect, sign in with it, disconnect; a new person signs up through it", { timeout: 90_000 }, async () => {
    const { page, demo } = s;
    await follow(page, nav(page, "Connected accounts"));
    expect(await page.textContent("#provider-list")).toBe("No account is connected.");
    await page.getByRole("button", { name: "Connect Dev IdP" }).click();
    await page.waitForURL(new RegExp(`^${escaped(demo.idp.issuer)}/interaction/`));
    await s.shot("devidp-login");
    // An unknown person is refused next to the field.
    await page.getByLabel("Username").fill("mallory");
    await page.getByRole("button", { name: "Sign in" }).click();
    await eventually(() => page.textContent("#username-error")).toBe("No dev person is called “mallory”. Try one of: alice, bob, carol.");
    await devIdpSignIn("alice", true);
    await page.waitForURL(`${demo.origin}/account/providers`);
    await ready(page);
    await statusText(page).toBe("Your Dev IdP account has been connected.");
    expect(await page.textContent("#provider-list")).toContain("Dev IdP: ");
    await s.shot("connected");
    expectSignals(["pre_social_login", "social_account_added"]);

    await logOut();
    expectSignals(["user_logged_out"]);
    await follow(page, nav(page, "Log in"));
    await page.getByRole("button", { name: "Sign in with Dev IdP" }).click();
    await devIdpSignIn("alice", false);
    await page.waitForURL(`${demo.origin}/`);
    await ready(page);
    await statusText(page).toBe(`You are logged in as ${email}.`);
    await s.shot("devidp-logged-in");
    expectSignals(["social_account_updated", "pre_social_login", "user_logged_in"]);

    await follow(page, nav(page, "Connected accounts"));
    await page.getByRole("button", { name: /^Disconnect Dev IdP/ }).click();
    await statusText(page).toMatch(/^Your Dev IdP account .+ has been disconnected\.$/);
    expect(await page.textContent("#provider-list")).toBe("No account is connected.");
    await s.shot("disconnected");
    expectSignals(["social_account_removed"]);

    // A new person (bob, whose address the IdP vouches for) signs up by signing in.
    await logOut();
    expectSignals(["user_logged_out"]);
    await follow(page, nav(page, "Log in"));
    await page.getByRole("button", { name: "Sign in with Dev IdP" }).click();
    await devIdpSignIn("bob", true);
    await page.waitForURL(`${demo.origin}/`);
    await ready(page);
    await statusText(page).toBe("You are logged in as bob@example.com.");
    await s.shot("devidp-signup");
    expectSignals(["pre_social_login", "user_signed_up", "user_logged_in"]);
    await logOut();
    expectSignals(["user_logged_out"]);
  });

  it("4. password reset by the mailed link", { timeout: 60_000 }, async () => {
    const { page, demo } = s;
    const before = demo.mailbox.mails.length;
    await follow(page, nav(page, "Log in"));
    await follow(page, page.getByRole("link", { name: "Forgot your password?" }));
    await page.getByLabel("Email address").fill(email);
    await page.getByRole("button", { name: "Send me reset instructions" }).click();
    await statusText(page).toBe(`Check your inbox: if ${email} has an account, a link to reset its password is on its way.`);
    await s.shot("reset-requested");

    await openMailbox(s, before + 1);
    await eventually(() => page.textContent("article.mail h2")).toMatch(/Password Reset/);
    const link = await page.getAttribute("article.mail a.mail-link", "href");
    expect(link).toMatch(new RegExp(`^${escaped(demo.origin)}/account/password/reset/key/[A-Za-z0-9_%-]+$`));
    await follow(page, page.getByRole("link", { name: "Open the link" }).first());
    expect(await page.textContent("#reset-key-info")).toBe(`Choose a new password for ${email}.`);
    await s.shot("reset-choose");
    await page.getByLabel("New password").fill(second);
    await page.getByRole("button", { name: "Set new password" }).click();
    await page.waitForURL(`${demo.origin}/login`);
    await ready(page);
    await statusText(page).toBe("Your password has been changed. Log in with your new password.");
    expectSignals(["password_reset"]);

    // The old password no longer works; the new one does.
    await page.getByLabel("Email address").fill(email);
    await page.getByLabel("Password").fill(first);
    await page.getByRole("button", { name: "Log in" }).click();
    await eventually(() => page.textContent('#login [data-error-for="password"]')).toMatch(/password you specified are not correct/);
    expectSignals([]);
    await page.getByLabel("Password").fill(second);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(`${demo.origin}/`);
    await ready(page);
    await statusText(page).toBe(`You are logged in as ${email}.`);
    await s.shot("reset-logged-in");
    expectSignals(["user_logged_in"]);
  });

  it("5. the live flow view shows the signals of that walk, in order", { timeout: 60_000 }, async () => {
    const { page, demo } = s;
    expect(s.allSignals).toEqual(walk);
    expect(walk).toHaveLength(20);
    await nav(page, "Flows").click();
    await page.waitForURL(`${demo.origin}/flows`);
    await eventually(() => page.textContent("h1")).toBe("Flow view");
    await eventually(() => page.locator("#am-log li[data-signal]").count()).toBe(walk.length);
    // Requests are listed newest first, each with its signals in emission order.
    const shown = await page.evaluate(() =>
      [...document.querySelectorAll("#am-log > li[data-request]")]
        .reverse()
        .flatMap((request) => [...request.querySelectorAll("li[data-signal]")].map((item) => (item as HTMLElement).dataset["signal"]!)),
    );
    expect(shown).toEqual(walk);
    expect(await page.textContent("#am-log")).toContain(email);
    await s.shot("flows", false);
    await expectAccessible(page, "/flows");
  });
});
