/**
 * The Express recipe (examples/express.ts) on a real Express 5 server: a browser signs up, logs
 * out and in, and the app's own `/me` follows; the same with the app's global `express.json()`
 * in front of the listener. Other paths reach the app.
 */
import express from "express";
import { describe, expect } from "vitest";
import { createApp } from "../../examples/express.ts";
import { recipeTests, served } from "./support.ts";

async function expressNotFound(response: Response, path: string): Promise<void> {
  expect(response.status).toBe(404);
  expect(await response.text()).toContain(`Cannot GET ${path}`);
}

describe("Express recipe", () => {
  recipeTests((auth) => served(createApp(auth).listen(0, "127.0.0.1")), expressNotFound);
});

describe("Express recipe after a global express.json() (the parsed body is taken from req.body)", () => {
  recipeTests((auth) => served(createApp(auth, express().use(express.json())).listen(0, "127.0.0.1")), expressNotFound);
});
