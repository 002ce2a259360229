/**
 * The Hono recipe (examples/hono.ts) on a real `@hono/node-server`: a browser signs up, logs out
 * and in, and the app's own `/me` follows; the signals carry the connection's address. Other
 * paths reach the app.
 */
import { serve } from "@hono/node-server";
import type { Server } from "node:http";
import { describe, expect } from "vitest";
import { createApp } from "../../examples/hono.ts";
import { recipeTests, served } from "./support.ts";

describe("Hono recipe", () => {
  recipeTests(
    (auth) => served(serve({ fetch: createApp(auth).fetch, port: 0, hostname: "127.0.0.1" }) as Server),
    async (response) => expect([response.status, await response.text()]).toEqual([404, "404 Not Found"]),
  );
});
