/**
 * The Express recipe (examples/express.ts) on a real Express 5 server: a browser signs up, logs
 * out and in, and the app's own `/me` follows; with the app's global `express.json()` in front of
 * the listener too. Other paths reach the app.
 */
import express from "express";
import type { Express } from "express";
import type { Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../../examples/express.ts";
import { fastHasher } from "../http/support.ts";
import { harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { browser, browserFlow, closeServer, originOf } from "./support.ts";

let h: Harness;
let server: Server | undefined;
afterEach(async () => {
  await closeServer(server);
  server = undefined;
  await h?.close();
});

async function start(app?: Express): Promise<string> {
  h = await harness({ account: { loginMethods: ["email"], emailVerification: "none" }, passwordHasher: fastHasher });
  server = createApp(h.auth, app).listen(0, "127.0.0.1");
  return originOf(server);
}

describe("Express recipe", () => {
  it("signup, logout, login through the API; /me follows the session", async () => {
    const origin = await start();
    await browserFlow(h, browser(origin), { mePath: "/me", ip: "127.0.0.1" });
  });

  it("works after a global express.json() too (the parsed body is taken from req.body)", async () => {
    const origin = await start(express().use(express.json()));
    await browserFlow(h, browser(origin), { mePath: "/me", ip: "127.0.0.1" });
  });

  it("other paths reach the app; unknown API paths are the API's 404", async () => {
    const origin = await start();
    const elsewhere = await fetch(`${origin}/nowhere`);
    expect(elsewhere.status).toBe(404);
    expect(await elsewhere.text()).toMatch(/Cannot GET \/nowhere/);
    const api = await fetch(`${origin}/_allauth/browser/v1/nowhere`);
    expect([api.status, await api.json()]).toEqual([404, { status: 404 }]);
  });
});
