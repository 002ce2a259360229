/**
 * The demo in code mode (`DEMO_MODE=code`), walked in headless Chromium: sign up and verify the
 * address with the mailed code (copied with the mailbox's copy button), log in by a mailed code,
 * and reset a forgotten password by a mailed code. Words on the pages and ordered signals are
 * asserted; screenshots go to `test-artifacts/demo/`; the code pages pass axe.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/browser.ts";
import { expectAccessible, follow, openDemo, openMailbox, ready, statusText, visit } from "../support/demo.ts";
import type { DemoSession } from "../support/demo.ts";

let s: DemoSession;
const email = "coder@example.com";
const first = "a first passphrase for the code demo";
const second = "another passphrase, chosen by code";
const codePattern = /^[A-Z0-9]{4}-[A-Z0-9]{4}$/;

beforeAll(async () => {
  s = await openDemo("codes", "code");
}, 60_000);

afterAll(async () => {
  await s?.close();
});

/** Opens the mailbox once it holds `count` mails, copies the newest mail's code, and returns it. */
async function copyNewestCode(count: number, subject: RegExp): Promise<string> {
  const { page } = s;
  await openMailbox(s, count);
  await eventually(() => page.textContent("article.mail h2")).toMatch(subject);
  const shown = ((await page.textContent("article.mail .mail-code")) ?? "").trim();
  expect(shown).toMatch(codePattern);
  await page.getByRole("button", { name: "Copy code" }).first().click();
  await statusText(page).toBe(`Copied the code ${shown}.`);
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(shown);
  return shown;
}

describe("the demo in code mode, walked in headless Chromium", () => {
  it("signup, then the code from the mailbox, then the dashboard", { timeout: 60_000 }, async () => {
    const { page, demo } = s;
    await visit(page, demo.origin, "/signup");
    await page.getByLabel("Email address").fill(email);
    await page.getByLabel("Password").fill(first);
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.waitForURL(`${demo.origin}/verify-email`);
    await ready(page);
    await statusText(page).toBe(`Thanks for signing up. Check your inbox to verify ${email}.`);
    expect(await page.textContent("#verify-pending")).toMatch(/^Check your inbox: enter the code from the mail/);
    await expectAccessible(page, "verify by code");
    await s.shot("verify-code");
    expect(s.takeSignals()).toEqual(["user_signed_up", "email_confirmation_sent"]);

    // A wrong code is told next to the field.
    await page.getByLabel("Verification code").fill("AAAA-AAAA");
    await page.getByRole("button", { name: "Verify" }).click();
    await eventually(() => page.textContent("#verify-code-key-error")).toMatch(/incorrect/i);

    const code = await copyNewestCode(1, /Please Confirm Your Email Address/);
    await s.shot("mailbox-code");
    await visit(page, demo.origin, "/verify-email");
    await page.getByLabel("Verification code").fill(await page.evaluate(() => navigator.clipboard.readText()));
    expect(await page.inputValue("#verify-code-key")).toBe(code);
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForURL(`${demo.origin}/`);
    await ready(page);
    await statusText(page).toBe(`Thanks, your address is verified. You are logged in as ${email}.`);
    await s.shot("verified-dashboard");
    expect(s.takeSignals()).toEqual(["email_confirmed", "user_logged_in"]);
  });

  it("logout, then login by a mailed code", { timeout: 60_000 }, async () => {
    const { page, demo } = s;
    await visit(page, demo.origin, "/logout");
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL(`${demo.origin}/`);
    await ready(page);
    expect(s.takeSignals()).toEqual(["user_logged_out"]);

    await visit(page, demo.origin, "/login");
    await follow(page, page.getByRole("link", { name: "Email me a login code instead" }));
    await page.getByLabel("Email address").fill(email);
    await page.getByRole("button", { name: "Email me a code" }).click();
    await statusText(page).toBe(`Check your inbox: if ${email} has an account, a login code is on its way.`);
    expect(await page.isVisible("#code-confirm")).toBe(true);
    await expectAccessible(page, "login code");
    await s.shot("login-code");
    const code = await copyNewestCode(2, /Sign In Code/);
    // The pending flow survives the trip to the mailbox: the page opens at the code step.
    await visit(page, demo.origin, "/login/code");
    expect(await page.isHidden("#code-request")).toBe(true);
    await page.getByLabel("Login code").fill(code);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(`${demo.origin}/`);
    await ready(page);
    await statusText(page).toBe(`You are logged in as ${email}.`);
    await s.shot("logged-in-by-code");
    expect(s.takeSignals()).toEqual(["user_logged_in"]);
  });

  it("password reset by a mailed code", { timeout: 60_000 }, async () => {
    const { page, demo } = s;
    await visit(page, demo.origin, "/logout");
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL(`${demo.origin}/`);
    s.takeSignals();

    await visit(page, demo.origin, "/account/password/reset");
    await page.getByLabel("Email address").fill(email);
    await page.getByRole("button", { name: "Send me reset instructions" }).click();
    await page.waitForURL(`${demo.origin}/account/password/reset/code`);
    await ready(page);
    await statusText(page).toBe(`Check your inbox: if ${email} has an account, a reset code is on its way.`);
    await expectAccessible(page, "reset by code");
    await s.shot("reset-code");
    const code = await copyNewestCode(3, /Password Reset/);
    await visit(page, demo.origin, "/account/password/reset/code");
    await page.getByLabel("Reset code").fill(code);
    await page.getByLabel("New password").fill(second);
    await page.getByRole("button", { name: "Set new password" }).click();
    await page.waitForURL(`${demo.origin}/login`);
    await ready(page);
    await statusText(page).toBe("Your password has been reset. Log in with your new password.");
    expect(s.takeSignals()).toEqual(["password_reset"]);

    await page.getByLabel("Email address").fill(email);
    await page.getByLabel("Password").fill(second);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(`${demo.origin}/`);
    await ready(page);
    await statusText(page).toBe(`You are logged in as ${email}.`);
    await s.shot("reset-logged-in");
    expect(s.takeSignals()).toEqual(["user_logged_in"]);
  });
});
