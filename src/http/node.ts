/**
 * `node:http` (and Express/Connect) adapter: `http.createServer(toNodeListener(auth.handler))`.
 * Passes the socket's address as the client IP; a TLS socket makes the request URL https (a
 * trusted proxy's `X-Forwarded-Proto` is read by the handler, see `host.ts`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { HandlerOptions } from "./handler.ts";
import { failure } from "./failure.ts";
import { disallowedHost } from "./host.ts";

type FetchHandler = (request: Request, options?: HandlerOptions) => Promise<Response>;

/**
 * The listener never rejects: a failure (the handler's, or writing the answer) is reported and
 * answered 500 or 503 JSON, or, once the answer has started, ends the connection.
 */
export function toNodeListener(
  handler: FetchHandler,
  report: (message: string, error: unknown) => void = (message, error) => console.error(`authmachines: ${message}`, error),
): (req: IncomingMessage, res: ServerResponse, next?: () => void) => Promise<void> {
  return async (req, res) => {
    try {
      await serve(handler, req, res);
    } catch (error) {
      const answer = failure(report, error);
      if (res.headersSent) {
        res.destroy();
      } else {
        await send(res, answer).catch(() => res.destroy());
      }
    }
  };
}

async function serve(handler: FetchHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
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
