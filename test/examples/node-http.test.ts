/**
 * The node:http recipe (examples/node-http.ts) on a real server: a browser signs up, logs out
 * and in, and the app's own `/me` follows; other paths reach the app's routes through `next`.
 */
import { describe, expect } from "vitest";
import { createAppServer } from "../../examples/node-http.ts";
import { recipeTests, served } from "./support.ts";

describe("node:http recipe", () => {
  recipeTests(
    (auth) => served(createAppServer(auth).listen(0, "127.0.0.1")),
    async (response) => expect([response.status, await response.json()]).toEqual([404, { error: "no such page" }]),
  );
});
