/**
 * Debian's chromium, driven headless through playwright-core (never a downloaded browser), with
 * a persistent profile in `profileDir` so cookies live as in a real browser.
 */
import { chromium } from "playwright-core";
import type { BrowserContext, Page } from "playwright-core";
import { expect } from "vitest";

export async function launchChromium(profileDir: string): Promise<{ readonly context: BrowserContext; readonly page: Page }> {
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return { context, page: context.pages()[0] ?? (await context.newPage()) };
}

/** Polls `read` until the assertion holds (a loaded machine runs Chromium slowly). */
export function eventually<T>(read: () => T | Promise<T>) {
  return expect.poll(read, { timeout: 20_000, interval: 100 });
}
