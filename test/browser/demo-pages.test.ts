/**
 * Every page of the demo passes axe-core (no serious or critical violation, at 1280 px and at
 * 360 px, with nothing wider than the screen), anonymous and logged in, plus the mailbox, the
 * Dev IdP's login and consent pages, the dummy provider's page and the error pages. The account
 * pages are walked in headless Chromium: email addresses (add, resend, verify, make primary,
 * remove) behind a reauthentication the server replays, sessions (list, end the others),
 * password change, a password set by a user who signed up through the Dev IdP, and a connect on
 * a stale login that reauthenticates first. Words and ordered signals are asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/browser.ts";
import { expectAccessible, follow, openDemo, openMailbox, ready, statusText, visit } from "../support/demo.ts";
import type { DemoSession } from "../support/demo.ts";

let s: DemoSession;
const email = "pages@example.com";
const other = "second.address@example.com";
const password = "the passphrase for the page tests";
const newPassword = "a changed passphrase for the pages";
/** Short, so the walk can outlive it; sensitive email changes then ask to reauthenticate. */
const reauthSeconds = 4;

beforeAll(async () => {
  s = await openDemo("pages", "link", { account: { reauthenticationTimeout: reauthSeconds } });
}, 60_000);

afterAll(async () => {
  await s?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


/**
 * Runs `click` (an email change); if the page asks to reauthenticate first (the login is older
 * than the window), confirms: the server then replays the change. Either way the page then
 * says `words`.
 */
async function withReauth(click: () => Promise<void>, words: string): Promise<void> {
  const { page, demo } = s;
  await click();
  await page.waitForFunction(
    () => location.pathname === "/reauthenticate" || !["", "Working…"].includes(document.querySelector("#status")?.textContent ?? ""),
  );
  if (new URL(page.url()).pathname === "/reauthenticate") {
    await ready(page);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Confirm" }).click();
    await page.waitForURL(`${demo.origin}/account/email`);
    await ready(page);
    await statusText(page).toBe(`Thanks, that’s you. ${words}`);
  } else {
    await statusText(page).toBe(words);
  }
}

describe("the demo's pages", () => {
  it("anonymous pages pass axe at desktop width and at 360 px", { timeout: 90_000 }, async () => {
    const { page, demo } = s;
    for (const path of ["/", "/signup", "/login", "/login/code", "/account/password/reset", "/verify-email", "/mailbox", "/account/provider/callback?error=cancelled", "/account/verify-email/not-a-key", "/account/password/reset/key/not-a-key", "/no-such-page"]) {
      if (path === "/no-such-page") {
        const response = await page.goto(`${demo.origin}${path}`);
        expect(response!.status()).toBe(404);
        expect(await page.textContent("h1")).toBe("Page not found");
      } else {
        await visit(page, demo.origin, path);
      }
      await expectAccessible(page, path);
    }
    // The invalid links say so in words.
    await visit(page, demo.origin, "/account/password/reset/key/not-a-key");
    await statusText(page).toBe("This reset link is invalid or has expired. Ask for a new one from “Forgot your password?”.");
    await visit(page, demo.origin, "/account/provider/callback?error=cancelled");
    await statusText(page).toBe("You cancelled signing in at the provider.");

    // The dummy provider's page (served by the library).
    await visit(page, demo.origin, "/login");
    await page.getByRole("button", { name: "Sign in with Dummy" }).click();
    await eventually(() => page.textContent("h1")).toBe("Dummy provider");
    await expectAccessible(page, "dummy provider page");
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.waitForURL(/\/account\/provider\/callback\?error=cancelled/);

    // The Dev IdP's own login page, with and without an error.
    await visit(page, demo.origin, "/login");
    await page.getByRole("button", { name: "Sign in with Dev IdP" }).click();
    await eventually(() => page.textContent("h1")).toBe("Sign in to Dev IdP");
    await expectAccessible(page, "Dev IdP login");
    await page.getByLabel("Username").fill("nobody");
    await page.getByRole("button", { name: "Sign in" }).click();
    await eventually(() => page.textContent("#username-error")).toMatch(/^No dev person is called “nobody”/);
    await expectAccessible(page, "Dev IdP login with an error");
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.waitForURL(new RegExp(`^${demo.origin.replace(/\./g, "\\.")}/account/provider/callback\\?`));
    await ready(page);
    await statusText(page).toBe("You cancelled signing in at the provider.");
    expect(s.takeSignals()).toEqual([]);
  });

  it("signup with a mailed link, then the logged-in pages pass axe", { timeout: 90_000 }, async () => {
    const { page, demo } = s;
    await visit(page, demo.origin, "/signup");
    await page.getByLabel("Email address").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.waitForURL(`${demo.origin}/verify-email`);
    await ready(page);
    await expectAccessible(page, "/verify-email (pending)");
    await openMailbox(s, 1);
    await expectAccessible(page, "/mailbox with a mail");
    await follow(page, page.getByRole("link", { name: "Open the link" }));
    await expectAccessible(page, "/account/verify-email/{key}");
    await page.getByRole("button", { name: "Confirm" }).click();
    await page.waitForURL(`${demo.origin}/`);
    await ready(page);
    await statusText(page).toBe(`Thanks, ${email} is verified. You are logged in as ${email}.`);
    expect(s.takeSignals()).toEqual(["user_signed_up", "email_confirmation_sent", "email_confirmed", "user_logged_in"]);
    for (const path of ["/", "/account/email", "/account/password", "/account/providers", "/account/sessions", "/reauthenticate", "/logout"]) {
      await visit(page, demo.origin, path);
      await expectAccessible(page, `${path} (logged in)`);
    }
  });

  it("email addresses: a stale login reauthenticates, then add, resend, verify, make primary, remove", { timeout: 90_000 }, async () => {
    const { page, demo } = s;
    await sleep(reauthSeconds * 1000 + 300);
    await visit(page, demo.origin, "/account/email");
    expect(await page.textContent("#email-list")).toBe(`${email}VerifiedPrimary`);
    await page.getByLabel("Email address", { exact: true }).fill(other);
    await page.getByRole("button", { name: "Add address" }).click();
    await page.waitForURL(`${demo.origin}/reauthenticate?next=%2Faccount%2Femail`);
    await ready(page);
    expect(await page.textContent("#status")).toBe("Please confirm it’s you first; then your change is made.");
    await s.shot("reauthenticate");
    await page.getByLabel("Password").fill("not my password, surely");
    await page.getByRole("button", { name: "Confirm" }).click();
    await eventually(() => page.textContent("#reauthenticate-password-error")).toMatch(/incorrect/i);
    expect(s.takeSignals()).toEqual([]);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Confirm" }).click();
    await page.waitForURL(`${demo.origin}/account/email`);
    await ready(page);
    // The add was kept, and made once the user confirmed.
    await statusText(page).toBe(`Thanks, that’s you. ${other} has been added. Check your inbox to verify it.`);
    await eventually(() => page.textContent("#email-list")).toBe(`${email}VerifiedPrimary${other}UnverifiedResend verificationRemove`);
    await s.shot("email-added");
    expect(s.takeSignals()).toEqual(["email_confirmation_sent", "email_added"]);

    // A resend right away meets the confirmation cooldown (3 minutes), and says so.
    await page.getByRole("button", { name: `Resend verification: ${other}` }).click();
    await statusText(page).toBe(`A verification mail went to ${other} only moments ago. Wait a few minutes before asking for another.`);
    expect(s.takeSignals()).toEqual([]);

    await openMailbox(s, 2);
    expect(await page.textContent("article.mail .meta")).toContain(`To ${other}`);
    await follow(page, page.getByRole("link", { name: "Open the link" }).first());
    await page.getByRole("button", { name: "Confirm" }).click();
    await page.waitForURL(`${demo.origin}/`);
    await ready(page);
    await statusText(page).toBe(`Thanks, ${other} is verified. You are logged in as ${email}.`);
    expect(s.takeSignals()).toEqual(["email_confirmed"]);

    await visit(page, demo.origin, "/account/email");
    await withReauth(() => page.getByRole("button", { name: `Make primary: ${other}` }).click(), `${other} is now your primary address.`);
    expect(s.takeSignals()).toEqual(["email_changed"]);
    await withReauth(() => page.getByRole("button", { name: `Remove: ${email}` }).click(), `${email} has been removed.`);
    await eventually(() => page.textContent("#email-list")).toBe(`${other}VerifiedPrimary`);
    await s.shot("email-removed");
    expect(s.takeSignals()).toEqual(["email_removed"]);
  });

  it("sessions: a second login is listed, and ended from the page", { timeout: 60_000 }, async () => {
    const { page, demo } = s;
    const login = await fetch(`${demo.origin}/_allauth/app/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "A second device" },
      body: JSON.stringify({ email: other, password }),
    });
    expect(login.status).toBe(200);
    s.takeSignals();
    await visit(page, demo.origin, "/account/sessions");
    await eventually(() => page.locator("#session-list > li").count()).toBe(2);
    expect(await page.textContent("#session-list")).toContain("A second device");
    expect(await page.textContent("#session-list")).toContain("This session");
    await page.getByRole("button", { name: "End all other sessions" }).click();
    await statusText(page).toBe("Ended 1 other session.");
    await eventually(() => page.locator("#session-list > li").count()).toBe(1);
    await s.shot("sessions");
    // Ending a session is no logout: no signal, and the other device's token is dead.
    expect(s.takeSignals()).toEqual([]);
    const token = ((await login.json()) as { meta: { session_token: string } }).meta.session_token;
    const after = await fetch(`${demo.origin}/_allauth/app/v1/auth/session`, { headers: { "x-session-token": token } });
    expect(after.status).toBe(410);
  });

  it("password change, and a password set by a Dev IdP signup", { timeout: 60_000 }, async () => {
    const { page, demo } = s;
    await visit(page, demo.origin, "/account/password");
    await page.getByLabel("Current password").fill("a wrong current password");
    await page.getByLabel("New password").fill(newPassword);
    await page.getByRole("button", { name: "Change password" }).click();
    await eventually(() => page.textContent("#password-current-error")).toBe("Please type your current password.");
    await page.getByLabel("Current password").fill(password);
    await page.getByRole("button", { name: "Change password" }).click();
    await statusText(page).toBe("Your password has been changed. Your other sessions were logged out.");
    expect(s.takeSignals()).toEqual(["password_changed"]);

    await visit(page, demo.origin, "/logout");
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL(`${demo.origin}/`);
    await visit(page, demo.origin, "/login");
    await page.getByRole("button", { name: "Sign in with Dev IdP" }).click();
    await eventually(() => page.textContent("h1")).toBe("Sign in to Dev IdP");
    await page.getByLabel("Username").fill("alice");
    await page.getByRole("button", { name: "Sign in" }).click();
    await eventually(() => page.textContent("h1")).toBe("Share your details?");
    await expectAccessible(page, "Dev IdP consent");
    await page.getByRole("button", { name: "Allow" }).click();
    await page.waitForURL(`${demo.origin}/`);
    await ready(page);
    await statusText(page).toBe("You are logged in as alice@example.com.");
    expect(s.takeSignals()).toEqual(["user_logged_out", "pre_social_login", "user_signed_up", "user_logged_in"]);

    await visit(page, demo.origin, "/account/password");
    await statusText(page).toBe("Your account has no password yet. Set one to log in with it.");
    expect(await page.isHidden("#password-current")).toBe(true);
    await expectAccessible(page, "/account/password (set)");
    await page.getByLabel("New password").fill(newPassword);
    await page.getByRole("button", { name: "Set password" }).click();
    await statusText(page).toBe("Your password has been set.");
    expect(s.takeSignals()).toEqual(["password_set"]);
  });

  it("connecting on a stale login asks to reauthenticate first, then connects", { timeout: 60_000 }, async () => {
    const { page, demo } = s;
    await sleep(reauthSeconds * 1000 + 300);
    const connectDummy = async () => {
      await page.getByRole("button", { name: "Connect Dummy" }).click();
      await eventually(() => page.textContent("h1")).toBe("Dummy provider");
      await page.getByLabel("Account ID").fill("7");
      await page.fill("#id_email", "alice@example.com");
      await page.getByRole("button", { name: "Login" }).click();
    };
    await visit(page, demo.origin, "/account/providers");
    expect(await page.textContent("#provider-list")).toMatch(/^Dev IdP: /);
    await connectDummy();
    await page.waitForURL(`${demo.origin}/reauthenticate?next=%2Faccount%2Fproviders`);
    await ready(page);
    expect(await page.textContent("#status")).toBe("Please confirm it’s you first, then connect again.");
    expect(s.takeSignals()).toEqual(["pre_social_login"]);
    await page.getByLabel("Password").fill(newPassword);
    await page.getByRole("button", { name: "Confirm" }).click();
    await page.waitForURL(`${demo.origin}/account/providers`);
    await ready(page);
    await statusText(page).toBe("Thanks, that’s you. You can continue now.");
    await connectDummy();
    await page.waitForURL(`${demo.origin}/account/providers`);
    await ready(page);
    await statusText(page).toBe("Your Dummy account has been connected.");
    expect(await page.locator("#provider-list > li").count()).toBe(2);
    expect(s.takeSignals()).toEqual(["pre_social_login", "social_account_added"]);
  });
});
