/**
 * The Fastify recipe (examples/fastify.ts) on a real Fastify 5 server: a browser signs up, logs
 * out and in, and the app's own `/me` follows (Fastify's parsers stay out of the API's bodies).
 * Other paths, and paths under `/accounts/` that are not the handler's, reach the app.
 */
import { describe, expect, it } from "vitest";
import { createApp } from "../../examples/fastify.ts";
import { goodPassword } from "../support/harness.ts";
import { recipeTests } from "./support.ts";

describe("Fastify recipe", () => {
  const start = recipeTests(
    async (auth) => {
      const app = await createApp(auth);
      return { origin: await app.listen({ port: 0, host: "127.0.0.1" }), close: () => app.close() };
    },
    async (response, path) =>
      expect([response.status, await response.json()]).toEqual([
        404,
        { statusCode: 404, error: "Not Found", message: `Route GET:${path} not found` },
      ]),
  );

  it("an unreadable or form body gets the API's bare 400, not Fastify's JSON error or 415", async () => {
    const { h, origin } = await start();
    const signup = `${origin}/_allauth/app/v1/auth/signup`;
    const broken = await fetch(signup, { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
    expect([broken.status, await broken.text()]).toEqual([400, ""]);
    const form = await fetch(signup, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ email: "form@example.com", password: goodPassword }).toString(),
    });
    expect([form.status, await form.text()]).toEqual([400, ""]);
    expect(await h.count("auth_user")).toBe(0);
    expect(h.takeSignals()).toEqual([]);
  });
});
