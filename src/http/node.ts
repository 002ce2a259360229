/**
 * `node:http` (and Express/Connect) adapter: `http.createServer(toNodeListener(auth.handler))`,
 * or `app.use(toNodeListener(auth.handler))`. Passes the socket's address as the client IP; a
 * TLS socket makes the request URL https (a trusted proxy's `X-Forwarded-Proto` is read by the
 * handler, see `host.ts`). Answers are buffered, except a `text/event-stream` one, which is
 * streamed (the flow view's `createServer(toNodeListener(view.handler))`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { HandlerOptions } from "./handler.ts";
import { failure } from "./failure.ts";
import { disallowedHost } from "./host.ts";

type FetchHandler = ((request: Request, options?: HandlerOptions) => Promise<Response>) & {
  readonly owns?: (pathname: string) => boolean;
  readonly report?: (message: string, error: unknown) => void;
};

const consoleReport = (message: string, error: unknown): void => console.error(`authmachines: ${message}`, error);

/** A Node request as frameworks hand it on: Express keeps the full path in `originalUrl`, and
 * a body parser that ran leaves the parsed body in `body`. */
type NodeRequest = IncomingMessage & { readonly originalUrl?: string; readonly body?: unknown };

export const consumedBodyMessage =
  "the request body was already read by another middleware, which left nothing in req.body: " +
  "mount authmachines before that body parser (e.g. app.use(toNodeListener(auth.handler)) before " +
  "app.use(express.json())), or let the parser leave the parsed body in req.body";

/**
 * The listener never rejects: a failure (the handler's, or writing the answer) is reported and
 * answered 500 or 503 JSON, or, once the answer has started, ends the connection. A path the
 * handler does not serve goes to `next()` when there is one (Express, Connect); a client that
 * disconnects before the answer aborts the request's signal, and a step not yet committed is
 * rolled back.
 */
export function toNodeListener(
  handler: FetchHandler,
  report: (message: string, error: unknown) => void = handler.report ?? consoleReport,
): (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => Promise<void> {
  return async (req, res, next) => {
    try {
      const path = ((req as NodeRequest).originalUrl ?? req.url ?? "/").split("?")[0]!;
      if (next !== undefined && handler.owns !== undefined && !handler.owns(path)) {
        next();
        return;
      }
      await serve(handler, req as NodeRequest, res, report);
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

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);

/** A body a framework's parser already read, as the bytes the handler expects; undefined if none ran. */
function parsedBody(req: NodeRequest): string | undefined {
  const body = req.body;
  if (body === undefined) {
    return undefined;
  }
  if (typeof body === "string") {
    return body;
  }
  if (body instanceof Uint8Array) {
    return Buffer.from(body).toString("utf8");
  }
  const type = String(req.headers["content-type"] ?? "");
  if (/^application\/x-www-form-urlencoded/i.test(type) && isRecord(body)) {
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(body)) {
      for (const item of Array.isArray(value) ? value : [value]) {
        form.append(name, String(item));
      }
    }
    return form.toString();
  }
  return JSON.stringify(body);
}

async function serve(
  handler: FetchHandler,
  req: NodeRequest,
  res: ServerResponse,
  report: (message: string, error: unknown) => void,
): Promise<void> {
  const host = req.headers.host ?? "localhost";
  let url: URL;
  try {
    const scheme = (req.socket as { encrypted?: boolean }).encrypted === true ? "https" : "http";
    url = new URL(req.originalUrl ?? req.url ?? "/", `${scheme}://${host}`);
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
  const aborted = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) {
      aborted.abort();
    }
  });
  let body: BodyInit | undefined;
  if (req.method !== "GET" && req.method !== "HEAD") {
    const parsed = parsedBody(req);
    if (parsed !== undefined) {
      headers.delete("content-length");
      body = parsed;
    } else if (req.readableEnded) {
      report(consumedBodyMessage, undefined);
      await send(res, Response.json({ status: 500 }, { status: 500 }));
      return;
    } else {
      body = Readable.toWeb(req) as ReadableStream;
    }
  }
  const request = new Request(url, {
    method: req.method ?? "GET",
    headers,
    signal: aborted.signal,
    ...(body === undefined ? {} : { body, duplex: "half" }),
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
  if (response.body !== null && /^text\/event-stream/i.test(response.headers.get("content-type") ?? "")) {
    // A server-sent event stream (the flow view's) is written as it comes, until either side ends it.
    res.flushHeaders();
    const reader = response.body.getReader();
    res.once("close", () => void reader.cancel().catch(() => undefined));
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      res.write(value);
    }
    res.end();
    return;
  }
  res.end(Buffer.from(await response.arrayBuffer()));
}
