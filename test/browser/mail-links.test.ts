/**
 * The links in the first mails a user gets open and complete their flow: the demo (default
 * `frontendUrls`) runs on a free port, headless Chromium signs up through its page, and the
 * verification and reset mails carry absolute links on the origin the browser used, which,
 * opened in the same browser, confirm the address and set a new password through the headless API.
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
import type { Mail } from "../../src/services/mailer.ts";
import { eventually, launchChromium } from "../support/browser.ts";
import { testSecret } from "../support/harness.ts";

const dir = mkdtempSync(join(tmpdir(), "authmachines-browser-"));
const mails: Array<Mail> = [];
let demo: Demo;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  demo = await startDemo({
    port: 0,
    secret: testSecret,
    database: `sqlite:${join(dir, "demo.db")}`,
    mailer: { send: async (mail) => void mails.push(mail) },
  });
  ({ context, page } = await launchChromium(join(dir, "profile")));
}, 60_000);

afterAll(async () => {
  await context?.close();
  await demo?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The one mail that arrives next (delivery runs just after the step commits). */
async function nextMail(): Promise<Mail> {
  await eventually(() => mails.length).toBe(1);
  return mails.splice(0)[0]!;
}

function onlyLink(mail: Mail): string {
  const links = mail.text.match(/https?:\/\/\S+/g) ?? [];
  expect(links).toHaveLength(1);
  return links[0]!;
}

async function submit(form: string, values: Record<string, string>): Promise<void> {
  for (const [name, value] of Object.entries(values)) {
    await page.fill(`#${form} input[name="${name}"]`, value);
  }
  await page.click(`#${form} button`);
}

describe("mailed links against the demo, in headless Chromium", () => {
  const email = "reader@example.com";
  const first = "a first passphrase for the demo";
  const second = "a second, brand new passphrase";

  it("the verification link is absolute on the request's origin and confirms the address", { timeout: 120_000 }, async () => {
    await page.goto(`${demo.origin}/`);
    await eventually(() => page.textContent("#who")).toBe("Not logged in");
    await submit("signup", { email, password: first });
    await eventually(() => page.textContent("#status")).toBe("Check your mail for the confirmation link.");
    await eventually(() => page.textContent("#who")).toBe("Not logged in (pending: verify_email)");

    const mail = await nextMail();
    expect(mail.to).toBe(email);
    const link = onlyLink(mail);
    expect(link).toMatch(new RegExp(`^${demo.origin.replace(/\./g, "\\.")}/account/verify-email/[A-Za-z0-9_%-]+$`));

    await page.goto(link);
    await eventually(() => page.textContent("#verify-email")).toBe(email);
    expect(await page.textContent("#who")).toBe("Not logged in (pending: verify_email)");
    await page.click("#verify button");
    await eventually(() => page.textContent("#status")).toBe("Email confirmed.");
    await eventually(() => page.textContent("#who")).toBe(`Logged in as ${email}`);
    // Verified in the database, not only in the page.
    const rows = await demo.auth.runtime.runPromise(
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ verified: number }>`SELECT verified FROM auth_email_address WHERE email = ${email}`),
    );
    expect(rows.map((r) => Number(r.verified))).toEqual([1]);
  });

  it("the reset link is absolute on the request's origin and sets the new password", { timeout: 120_000 }, async () => {
    await page.goto(`${demo.origin}/`);
    await page.click("#logout");
    await eventually(() => page.textContent("#who")).toBe("Not logged in");
    await submit("request", { email });
    await eventually(() => page.textContent("#status")).toBe("If the address has an account, a reset link is on its way.");

    const link = onlyLink(await nextMail());
    expect(link).toMatch(new RegExp(`^${demo.origin.replace(/\./g, "\\.")}/account/password/reset/key/[A-Za-z0-9_%-]+$`));

    await page.goto(link);
    await eventually(() => page.textContent("#reset-email")).toBe(`for ${email}`);
    await submit("reset", { password: second });
    await eventually(() => page.textContent("#status")).toBe("Password changed.");

    await page.goto(`${demo.origin}/`);
    await submit("login", { email, password: first });
    await eventually(() => page.textContent("#status")).not.toBe("");
    expect(await page.textContent("#who")).toBe("Not logged in");
    await submit("login", { email, password: second });
    await eventually(() => page.textContent("#who")).toBe(`Logged in as ${email}`);
  });
});
