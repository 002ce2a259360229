/**
 * The live flow view (`authmachines/devtools`) over real HTTP: a harness whose `inspect` is the
 * view's and whose signals it is attached to, the view served by `toNodeListener` on loopback.
 * The signal stream is read as a browser's EventSource would, the page is read as HTML, and
 * Debian's Chromium shows the highlight and a new signal without a reload.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { machines } from "../../machines/index.ts";
import { createFlowView, stateIdsOf } from "../../src/devtools/index.ts";
import type { FlowView, FlowViewSignal, FlowViewState } from "../../src/devtools/index.ts";
import { toNodeListener } from "../../src/http/node.ts";
import { fastHasher } from "../http/support.ts";
import { eventually, launchChromium } from "../support/browser.ts";
import { goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

interface Served {
  readonly view: FlowView;
  readonly h: Harness;
  readonly origin: string;
}

async function served(account: object = { emailVerification: "none" }): Promise<Served> {
  const view = createFlowView({ basePath: "/flows" });
  cleanups.push(() => view.close());
  const h = await harness({ passwordHasher: fastHasher, account: { loginMethods: ["email"], ...account } }, { inspect: view.inspect });
  cleanups.push(() => h.close());
  view.attach(h.auth);
  const server: Server = createServer(toNodeListener(view.handler)).listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  cleanups.push(() => server.closeAllConnections());
  return { view, h, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface Stream {
  readonly signals: Array<FlowViewSignal>;
  readonly flows: Array<FlowViewState>;
  /** Everything received, as text. */
  text(): string;
}

/** Reads the view's server-sent events as they come. */
async function listen(origin: string): Promise<Stream> {
  const aborter = new AbortController();
  const response = await fetch(`${origin}/flows/events`, { signal: aborter.signal });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
  const signals: Array<FlowViewSignal> = [];
  const flows: Array<FlowViewState> = [];
  let raw = "";
  let buffer = "";
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  cleanups.push(() => aborter.abort());
  void (async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) {
        return;
      }
      raw += value;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event === "signal") {
          signals.push(JSON.parse(data!) as FlowViewSignal);
        } else if (event === "flow") {
          flows.push(JSON.parse(data!) as FlowViewState);
        }
      }
    }
  })();
  return { signals, flows, text: () => raw };
}

describe("the signal stream", () => {
  it("streams every signal in order with its payload and request, and nothing of the cookies or tokens", async () => {
    const { h, origin } = await served();
    const stream = await listen(origin);
    const browser = h.browser();
    expect((await browser.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    expect((await browser.request("DELETE", "auth/session")).status).toBe(401);
    const app = h.app();
    expect((await app.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword })).status).toBe(200);

    await eventually(() => stream.signals.map((signal) => signal.name)).toEqual([
      "user_signed_up",
      "user_logged_in",
      "user_logged_out",
      "user_logged_in",
    ]);
    const [signedUp, loggedIn, loggedOut, appLogin] = stream.signals as [FlowViewSignal, FlowViewSignal, FlowViewSignal, FlowViewSignal];
    expect(signedUp.request).toEqual({
      n: 1,
      method: "POST",
      path: "/_allauth/browser/v1/auth/signup",
      client: "browser",
      ip: expect.stringMatching(/^10\.0\.0\./),
      userAgent: "vitest",
      userId: null,
    });
    expect(signedUp.payload).toEqual({
      user: { id: expect.any(String), username: null, email: "ann@example.com", isActive: true, hasUsablePassword: true },
    });
    expect(loggedIn.request).toMatchObject({ n: 1, userId: signedUp.payload["user"] && (signedUp.payload["user"] as { id: string }).id });
    expect(loggedOut.request).toMatchObject({ n: 2, method: "DELETE", path: "/_allauth/browser/v1/auth/session" });
    expect(appLogin.request).toMatchObject({ n: 3, client: "app", path: "/_allauth/app/v1/auth/login" });
    expect(stream.signals.map((signal) => signal.seq)).toEqual([...stream.signals.map((signal) => signal.seq)].sort((a, b) => a - b));
    // Only the signal's own fields: no request, response or session in a payload.
    for (const signal of stream.signals) {
      expect(Object.keys(signal.payload)).not.toContain("request");
      expect(Object.keys(signal.payload)).not.toContain("response");
    }
    const secrets = [goodPassword, ...browser.cookies.values(), app.token!];
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    for (const secret of secrets) {
      expect(stream.text().includes(secret), `the stream holds a secret (${secret.length} characters)`).toBe(false);
    }
  });

  it("gives a client that connects late the recent history, in the same order", async () => {
    const { h, origin } = await served();
    const early = await listen(origin);
    const browser = h.browser();
    await browser.request("POST", "auth/signup", { email: "bea@example.com", password: goodPassword });
    await browser.request("DELETE", "auth/session");
    await eventually(() => early.signals.length).toBe(3);

    const late = await listen(origin);
    await eventually(() => late.signals.map((signal) => [signal.seq, signal.name])).toEqual(
      early.signals.map((signal) => [signal.seq, signal.name]),
    );
    expect(late.signals).toEqual(early.signals);
    // The machines' latest states come with the history.
    await eventually(() => late.flows.map((flow) => flow.machine)).toEqual(expect.arrayContaining(["signup", "logout"]));
  });

  it("highlights the states the signup flow ended in", async () => {
    const { h, origin } = await served({ emailVerification: "mandatory" });
    const stream = await listen(origin);
    const browser = h.browser();
    expect((await browser.request("POST", "auth/signup", { email: "cai@example.com", password: goodPassword })).status).toBe(401);
    await eventually(() => stream.signals.map((signal) => signal.name)).toEqual(["user_signed_up", "email_confirmation_sent"]);

    // A mandatory signup rests in the login pipeline's verificationPending, a final state.
    await eventually(() => stream.flows.filter((flow) => flow.machine === "signup").at(-1)).toMatchObject({
      value: "verificationPending",
      stateIds: ["signup.verificationPending"],
      status: "done",
    });
    const page = await (await fetch(`${origin}/flows`)).text();
    expect(page).toMatch(/id="machine-signup"[\s\S]*?Last flow: <span class="am-now-value">verificationPending \(done\)<\/span>/);
  });

  it("shows a pending flow as active in the state it rests in between requests", async () => {
    const { h, origin } = await served({ emailVerification: "optional", loginByCodeEnabled: true });
    await h.app().request("POST", "auth/signup", { email: "eve@example.com", password: goodPassword });
    const stream = await listen(origin);
    expect((await h.app().request("POST", "auth/code/request", { email: "eve@example.com" })).status).toBe(401);
    await eventually(() => stream.flows.filter((flow) => flow.machine === "login-by-code").at(-1)).toMatchObject({
      value: "awaitingCode",
      stateIds: stateIdsOf(machines["login-by-code"], "awaitingCode"),
      status: "active",
    });
    // The step's actor was stopped after it rested: the view still says pending, not stopped.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stream.flows.filter((flow) => flow.machine === "login-by-code").at(-1)?.status).toBe("active");
    expect(await (await fetch(`${origin}/flows`)).text()).toContain("awaitingCode (pending)");
  });
});

describe("the page", () => {
  it("lists every machine of the catalogue with its statechart, served from the view alone", async () => {
    const { origin } = await served();
    const response = await fetch(`${origin}/flows`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("content-security-policy")).toContain("default-src 'none'");
    const page = await response.text();
    const sections = [...page.matchAll(/<section class="am-machine" id="machine-([^"]+)"[\s\S]*?<\/section>/g)];
    expect(sections.map((section) => section[1])).toEqual(Object.keys(machines));
    for (const [section, slug] of sections) {
      expect(section, slug).toContain("<svg");
      // Every state of the machine is drawn with its StateNode id.
      const machine = machines[slug as keyof typeof machines];
      for (const id of Object.keys(machine.root.states).map((key) => `${machine.id}.${key}`)) {
        expect(section.includes(`data-state="${id}"`), `${slug} draws ${id}`).toBe(true);
      }
    }
    expect(page).toMatch(/<h1>Flow view<\/h1>/);
    expect(page).toContain('aria-live="polite"');
    // Offline: every script, style and link is the view's own.
    expect(page).not.toMatch(/(src|href)="(https?:)?\/\//);
    for (const asset of ["/flows/view.js", "/flows/view.css", "/flows/icon.svg"]) {
      expect(page).toContain(asset);
      expect((await fetch(`${origin}${asset}`)).status).toBe(200);
    }
  });

  it("owns its base path only and refuses other methods", async () => {
    const { view, origin } = await served();
    expect([view.owns("/flows"), view.owns("/flows/events"), view.owns("/flowsx"), view.owns("/_allauth/app/v1/config")]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect((await fetch(`${origin}/flows/nothing`)).status).toBe(404);
    expect((await fetch(`${origin}/flows`, { method: "POST" })).status).toBe(405);
  });
});

describe("createFlowView", () => {
  it('refuses to start when NODE_ENV is "production", unless allowInProduction', () => {
    const before = process.env["NODE_ENV"];
    process.env["NODE_ENV"] = "production";
    try {
      expect(() => createFlowView()).toThrow(/refuses to start because NODE_ENV is "production"/);
      createFlowView({ allowInProduction: true }).close();
    } finally {
      process.env["NODE_ENV"] = before;
    }
  });

  it("maps nested snapshot values to state node ids", () => {
    expect(stateIdsOf(machines.signup, "loggedIn")).toEqual(["signup.loggedIn"]);
    expect(stateIdsOf(machines.signup, "nowhere")).toEqual([]);
  });
});

describe("in Chromium", () => {
  it("renders the charts, then highlights a new flow and logs its signals without a reload, at 360 px", { timeout: 90_000 }, async () => {
    const { h, origin } = await served();
    const profile = mkdtempSync(join(tmpdir(), "am-flowview-"));
    cleanups.push(() => rmSync(profile, { recursive: true, force: true }));
    const { context, page } = await launchChromium(profile);
    cleanups.push(() => context.close());
    const problems: Array<string> = [];
    page.on("console", (message) => {
      if (message.type() === "error") {
        problems.push(message.text());
      }
    });
    page.on("pageerror", (error) => problems.push(error.message));
    await page.setViewportSize({ width: 360, height: 800 });
    await page.goto(`${origin}/flows`);
    await eventually(() => page.locator("#am-connection").textContent()).toContain("Live");
    expect(await page.locator(".am-machine svg").count()).toBe(Object.keys(machines).length);
    expect(await page.locator(".am-state.am-current").count()).toBe(0);

    const browser = h.browser();
    expect((await browser.request("POST", "auth/signup", { email: "dan@example.com", password: goodPassword })).status).toBe(200);

    await eventually(() => page.locator("#am-log .am-request").first().locator(".am-signal-name").allTextContents()).toEqual([
      "user_signed_up",
      "user_logged_in",
    ]);
    await eventually(() => page.locator('section[data-machine="signup"] .am-state.am-current.am-leaf').getAttribute("data-state")).toBe(
      stateIdsOf(machines.signup, "loggedIn")[0],
    );
    expect(await page.locator('section[data-machine="signup"] .am-now-value').textContent()).toBe("loggedIn (done)");
    expect(await page.locator("#am-empty").isHidden()).toBe(true);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await page.locator('section[data-machine="signup"] .am-state.am-leaf').scrollIntoViewIfNeeded();
    // Kept for a look after the run.
    await page.screenshot({ path: join(tmpdir(), "authmachines-flow-view-360.png"), fullPage: false });
    // axe-core, evaluated through the debugger (the page's CSP admits only the view's own script).
    await page.evaluate(readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8"));
    const violations = await page.evaluate(async () => {
      const results = await (globalThis as unknown as { axe: { run: () => Promise<{ violations: Array<{ id: string; impact: string }> }> } }).axe.run();
      return results.violations.map((violation) => `${violation.impact} ${violation.id}`);
    });
    expect(violations.filter((violation) => /^(serious|critical)/.test(violation))).toEqual([]);
    expect(problems).toEqual([]);
  });
});
