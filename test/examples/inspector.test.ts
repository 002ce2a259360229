/**
 * The inspector recipe (examples/inspector.ts) on loopback: the example's WebSocket inspector
 * sends to `@statelyai/inspect`'s own relay server, and a WebSocket receiver connected to that
 * relay gets the signup's actor and snapshots. Nothing is sent before `start()`, and the
 * password never travels.
 */
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { createWebSocketReceiver } from "@statelyai/inspect";
import type { StatelyInspectionEvent } from "@statelyai/inspect";
import { createInspectorServer } from "@statelyai/inspect/server";
import { afterEach, expect, it } from "vitest";
import { createInspectedAuth, createNodeInspector } from "../../examples/inspector.ts";
import type { Auth } from "../../src/auth.ts";

/** A loopback port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

async function signup(auth: Auth, password: string): Promise<number> {
  const response = await auth.handler(
    new Request("http://localhost/_allauth/app/v1/auth/signup", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "ada@example.com", password }),
    }),
    { ip: "127.0.0.1" },
  );
  return response.status;
}

it("relays every flow actor of a signup to a WebSocket receiver once started, without the password", async () => {
  const port = await freePort();
  const server = createInspectorServer({ port, autoOpen: false });
  cleanups.push(() => server.stop());
  const inspector = createNodeInspector(`ws://127.0.0.1:${port}`);
  cleanups.push(() => inspector.stop());
  const auth = await createInspectedAuth(inspector);
  cleanups.push(() => auth.close());

  const received: Array<StatelyInspectionEvent> = [];
  const receiver = createWebSocketReceiver({ server: `ws://127.0.0.1:${port}` });
  receiver.subscribe((event) => void received.push(event));

  const password = "a long enough passphrase for the inspector";
  // Not started yet: the inspector holds the events and nothing reaches the relay.
  expect(await signup(auth, password)).toBe(200);
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(received).toEqual([]);

  inspector.start();
  await expect
    .poll(() => received.filter((event) => event.type === "@xstate.snapshot").length, { timeout: 15_000 })
    .toBeGreaterThan(0);
  const actors = received.filter((event) => event.type === "@xstate.actor");
  expect(actors.map((event) => (event as { name?: string }).name)).toContain("signup");
  const values = received.flatMap((event) =>
    event.type === "@xstate.snapshot" ? [JSON.stringify((event.snapshot as { value?: unknown }).value)] : [],
  );
  expect(values.length).toBeGreaterThan(0);
  const everything = JSON.stringify(received);
  expect(everything).toContain("ada@example.com");
  expect(everything).not.toContain(password);
});
