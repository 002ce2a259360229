/**
 * `node:http` (and Express/Connect) adapter: `http.createServer(toNodeListener(auth.handler))`.
 * Passes the socket's address as the client IP; a TLS socket makes the request URL https (a
 * trusted proxy's `X-Forwarded-Proto` is read by the handler, see `host.ts`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { HandlerOptions } from "./handler.ts";
import { disallowedHost } from "./host.ts";

type FetchHandler = (request: Request, options?: HandlerOptions) => Promise<Response>;

export function toNodeListener(
  handler: FetchHandler,
): (req: IncomingMessage, res: ServerResponse, next?: () => void) => Promise<void> {
  return async (req, res) => {
    const host = req.headers.host ?? "localhost";
    let url: URL;
    try {
      const scheme = (req.socket as { encrypted?: boolean }).encrypted === true ? "https" : "http";
      url = new URL(req.url ?? "/", `${scheme}://${host}`);
    } catch {
      // A Host header no URL can hold: refused like a host outside `allowedHosts`.
      await send(res, disallowedHost());
      return;
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (Array.isArray(value)) {
        value.forEach((v) => headers.append(name, v));
      } else if (value !== undefined) {
        headers.set(name, value);
      }
    }
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(url, {
      method: req.method ?? "GET",
      headers,
      ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream, duplex: "half" } : {}),
    } as RequestInit);
    await send(res, await handler(request, req.socket.remoteAddress === undefined ? {} : { ip: req.socket.remoteAddress }));
  };
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  res.statusCode = response.status;
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") {
      res.setHeader(name, value);
    }
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) {
    res.setHeader("set-cookie", cookies);
  }
  res.end(Buffer.from(await response.arrayBuffer()));
}
