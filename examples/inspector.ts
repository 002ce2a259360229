/**
 * Watching every flow in the Stately inspector, from Node: `createAuth`'s `inspect` option fed to
 * `@statelyai/inspect`'s WebSocket inspector.
 *
 * Run it with `npx tsx examples/inspector.ts`, then open http://localhost:8080 in a browser: that
 * page (served by `createInspectorServer`) embeds the Stately inspector (stately.ai/inspect, so it
 * needs the network) and relays what this process sends over the WebSocket. The signup the
 * script makes appears there as a `signup` actor with its states and events. For a view that
 * works offline, see `authmachines/devtools` (the live flow view).
 *
 * The inspector sees ids, emails and state values; passwords, codes and keys travel as `Secret`
 * values, which serialise as "<redacted>".
 */
import { createWebSocketInspector } from "@statelyai/inspect";
import { createInspectorServer } from "@statelyai/inspect/server";
import { createAuth } from "authmachines";
import type { Auth } from "authmachines";

/**
 * An inspector that sends to the WebSocket at `url`. `autoStart: false`: nothing connects until
 * `start()`, so creating it has no effect on a process that never starts it (events are held,
 * up to 200, until then).
 */
export function createNodeInspector(url: string): ReturnType<typeof createWebSocketInspector> {
  return createWebSocketInspector({ url, autoStart: false });
}

/** An auth whose every flow actor is shown to `inspector`. */
export function createInspectedAuth(inspector: ReturnType<typeof createWebSocketInspector>): Promise<Auth> {
  return createAuth(
    {
      secret: "an-example-secret-of-at-least-32-bytes!",
      database: "sqlite::memory:",
      mailer: "console",
      outbox: { pollIntervalMs: false },
      account: { loginMethods: ["email"], emailVerification: "optional" },
    },
    { inspect: inspector.inspect },
  );
}

export async function main(): Promise<void> {
  // The bridge page and WebSocket relay on :8080 (autoOpen: false: open the URL yourself).
  const server = createInspectorServer({ port: 8080, autoOpen: false });
  const inspector = createNodeInspector("ws://localhost:8080");
  inspector.start();
  const auth = await createInspectedAuth(inspector);
  console.log("open http://localhost:8080 to watch the flows");

  const response = await auth.handler(
    new Request("http://localhost/_allauth/app/v1/auth/signup", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "ada@example.com", password: "a long enough passphrase" }),
    }),
    { ip: "127.0.0.1" },
  );
  console.log(`signup answered ${response.status}; press Ctrl+C to stop`);
  process.once("SIGINT", () => {
    inspector.stop();
    server.stop();
    void auth.close();
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main();
}
