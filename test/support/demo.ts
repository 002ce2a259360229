/**
 * The demo in browser tests: `startDemo` as `npm start` runs it (port 0, a temp SQLite file),
 * the signals it emits recorded by name, screenshots of each step into `test-artifacts/demo/`,
 * and an axe-core check of the page at desktop width and at 360 px.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Locator, Page } from "playwright-core";
import { expect } from "vitest";
import { startDemo } from "../../examples/demo/app.ts";
import type { Demo, DemoMode } from "../../examples/demo/app.ts";
import { authSignalNames } from "../../machines/signals.ts";
import type { AuthSignal } from "../../machines/signals.ts";
import { eventually, launchChromium } from "./browser.ts";
import { testSecret } from "./harness.ts";

export const artifacts = join(process.cwd(), "test-artifacts", "demo");

export interface DemoSession {
  readonly demo: Demo;
  readonly context: BrowserContext;
  readonly page: Page;
  /** The signals emitted since the last call, in order, by name. */
  takeSignals(): Array<AuthSignal["type"]>;
  /** Every signal emitted so far (the whole walk), by name. */
  readonly allSignals: ReadonlyArray<AuthSignal["type"]>;
  /** Saves a screenshot `test-artifacts/demo/<prefix>-<nn>-<name>.png` (the whole page, or the viewport). */
  shot(name: string, fullPage?: boolean): Promise<void>;
  close(): Promise<void>;
}

export async function openDemo(prefix: string, mode: DemoMode = "link", extra: Partial<Parameters<typeof startDemo>[0]> = {}): Promise<DemoSession> {
  const dir = mkdtempSync(join(tmpdir(), `authmachines-demo-${prefix}-`));
  mkdirSync(artifacts, { recursive: true });
  // This file's screenshots of an earlier run go, so the folder shows one walk.
  for (const file of readdirSync(artifacts).filter((name) => name.startsWith(`${prefix}-`))) rmSync(join(artifacts, file));
  const demo = await startDemo({ port: 0, secret: testSecret, database: `sqlite:${join(dir, "demo.db")}`, mode, quiet: true, ...extra });
  const recent: Array<AuthSignal["type"]> = [];
  const all: Array<AuthSignal["type"]> = [];
  for (const name of authSignalNames) {
    demo.auth.signals.on(name, () => {
      recent.push(name);
      all.push(name);
    });
  }
  const { context, page } = await launchChromium(join(dir, "profile"));
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: demo.origin });
  page.setDefaultTimeout(15_000);
  let step = 0;
  return {
    demo,
    context,
    page,
    takeSignals: () => recent.splice(0),
    allSignals: all,
    async shot(name, fullPage = true) {
      step += 1;
      await page.screenshot({ path: join(artifacts, `${prefix}-${String(step).padStart(2, "0")}-${name}.png`), fullPage });
    },
    async close() {
      await context.close();
      await demo.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Goes to `path` on the demo and waits until its script has set the page up. */
export async function visit(page: Page, origin: string, path: string): Promise<void> {
  await page.goto(`${origin}${path}`);
  await ready(page);
}

/** Waits for the page's script to finish setting the page up. */
export async function ready(page: Page): Promise<void> {
  await page.waitForSelector("body[data-ready=true]", { timeout: 20_000 });
}

/** Clicks `link`, waits for the page it leads to, and for that page's script. */
export async function follow(page: Page, link: Locator): Promise<void> {
  const target = new URL((await link.getAttribute("href"))!, page.url()).href;
  await link.click();
  await page.waitForURL(target);
  await ready(page);
}

/** The status region, once it says something (and is not "Working…"). */
export function statusText(page: Page) {
  return eventually(async () => ((await page.textContent("#status")) ?? "").trim());
}

/** Waits for the mailbox to hold `count` mails, then opens it. */
export async function openMailbox(session: DemoSession, count: number): Promise<void> {
  await session.demo.mailbox.waitFor(count);
  await visit(session.page, session.demo.origin, "/mailbox");
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: ReadonlyArray<{ readonly target: ReadonlyArray<string> }>;
}

/** axe-core on the page as it is, at 1280 px then at 360 px: no serious or critical violation. */
export async function expectAccessible(page: Page, label: string): Promise<void> {
  const original = page.viewportSize() ?? { width: 1280, height: 720 };
  for (const width of [1280, 360]) {
    await page.setViewportSize({ width, height: 800 });
    if (!(await page.evaluate(() => "axe" in globalThis))) await page.evaluate(axeSource);
    const violations = (await page.evaluate(async () => {
      const axe = (globalThis as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<{ violations: Array<AxeViolation> }> } }).axe;
      const result = await axe.run(document, { resultTypes: ["violations"] });
      return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
    })) as Array<AxeViolation>;
    const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(serious.map((v) => `${label} at ${width}px: ${v.id} (${v.impact}) ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
    // Usable at 360 px: nothing wider than the viewport.
    if (width === 360) {
      expect(await page.evaluate(() => document.documentElement.scrollWidth), `${label} scrolls sideways at 360 px`).toBeLessThanOrEqual(360);
    }
  }
  await page.setViewportSize(original);
}
