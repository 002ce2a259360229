/**
 * Plain `node:http`: the allauth headless API under `basePath` (`/_allauth`), every other path to
 * the app's own routes through the listener's `next` argument.
 *
 *   createServer((req, res) => void listener(req, res, () => routes(req, res)));
 *
 * `createServer(toNodeListener(auth.handler))` alone serves the API and answers 404 elsewhere.
 */
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { toNodeListener } from "authmachines";
import type { Auth } from "authmachines";

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

export function createAppServer(auth: Auth): Server {
  const listener = toNodeListener(auth.handler);

  // The app's own routes: a protected `/me`, and its 404.
  const routes = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/me") {
      const session = await auth.getSession(req);
      if (session === null) {
        json(res, 401, { error: "not logged in" });
      } else {
        json(res, 200, { email: session.user.email });
      }
      return;
    }
    json(res, 404, { error: "no such page" });
  };

  return createServer((req, res) => {
    void listener(req, res, () => {
      routes(req, res).catch(() => json(res, 500, { error: "internal error" }));
    });
  });
}
