/**
 * The live flow view (`authmachines/devtools`): a development page that draws every machine of
 * the catalogue as its statechart, highlights the states the flows of the last requests rested
 * in (from the XState inspection events), and streams every emitted signal, in order, with its
 * payload over server-sent events.
 *
 *   const view = createFlowView({ basePath: "/flows" });
 *   const auth = await createAuth(config, { inspect: view.inspect });
 *   view.attach(auth);
 *   // route the paths view.owns(pathname) claims to view.handler(request)
 *
 * It shows users' emails and ids: never mount it in production (it refuses to start when
 * NODE_ENV is "production" unless `allowInProduction` is set). What it streams holds no secret by
 * construction: a signal's own fields (ids, emails, flags) copied as JSON, plus the request's
 * method, path (no query), client kind, IP, user agent and user id; never the request's headers,
 * cookies or body, nor the response.
 */
import type { AnyStateMachine, InspectionEvent, StateValue } from "xstate";
import { machines } from "../../machines/index.ts";
import { authSignalNames } from "../../machines/signals.ts";
import type { AuthSignalName } from "../../machines/signals.ts";
import type { Auth } from "../auth.ts";
import type { SignalPayload } from "../runtime/signal-bus.ts";
import { flowViewIcon, flowViewPage, flowViewScript, flowViewStyle } from "./flow-view-page.ts";
import { statechartSvg } from "./statechart.ts";

export interface FlowViewOptions {
  /** Where the view is served: the page at `basePath`, its stream and assets below it. Default "/flows". */
  readonly basePath?: string;
  /** How many signals (and requests) the view keeps for late clients. Default 500. */
  readonly history?: number;
  /** Starts even when NODE_ENV is "production". Don't. */
  readonly allowInProduction?: boolean;
}

/** One signal as the view streams it. */
export interface FlowViewSignal {
  /** Increases by one per signal; the SSE event id. */
  readonly seq: number;
  /** The request that emitted it, numbered from 1 in arrival order. */
  readonly request: {
    readonly n: number;
    readonly method: string;
    /** The path only: a query (a social callback's `code`) is never kept. */
    readonly path: string;
    readonly client: "browser" | "app";
    readonly ip: string;
    readonly userAgent: string;
    /** The session's user when the signal was emitted, or null. */
    readonly userId: string | null;
  };
  readonly name: AuthSignalName;
  /** The signal's own fields (without `type`) as JSON: ids, emails, flags. */
  readonly payload: Record<string, unknown>;
}

/** Where one machine's latest flow is. */
export interface FlowViewState {
  readonly seq: number;
  /** The catalogue slug (`machines` of `authmachines/machines`). */
  readonly machine: string;
  /** The actor's snapshot value. */
  readonly value: StateValue;
  /** The ids of the state nodes the value names, outermost first (`data-state` in the charts). */
  readonly stateIds: ReadonlyArray<string>;
  /** "active" (pending: it waits for the next request, or is still running), "done" or "error". */
  readonly status: string;
}

export interface FlowView {
  /** The inspector to give `createAuth(config, { inspect })`. Never throws into a flow. */
  readonly inspect: (event: InspectionEvent) => void;
  /** Subscribes to every signal of `auth`; returns the function that unsubscribes. */
  readonly attach: (auth: Pick<Auth, "signals">) => () => void;
  /** Whether `pathname` is the view's (the page, its stream or an asset). */
  readonly owns: (pathname: string) => boolean;
  /** The Fetch handler for the paths the view owns. */
  readonly handler: (request: Request) => Promise<Response>;
  /** Ends every open stream and detaches from every auth. */
  readonly close: () => void;
}

/** The state node ids a snapshot value names, outermost first. */
export function stateIdsOf(machine: AnyStateMachine, value: StateValue): Array<string> {
  type Node = { readonly id: string; readonly states: Record<string, Node> };
  const walk = (node: Node, part: StateValue): Array<string> => {
    if (typeof part === "string") {
      const child = node.states[part];
      return child === undefined ? [] : [child.id];
    }
    return Object.entries(part).flatMap(([key, inner]) => {
      const child = node.states[key];
      return child === undefined ? [] : [child.id, ...(inner === undefined ? [] : walk(child, inner))];
    });
  };
  return walk(machine.root as unknown as Node, value);
}

const slugById = new Map<string, string>(Object.entries(machines).map(([slug, machine]) => [machine.id, slug]));

/** A signal's payload without its runtime additions, as plain JSON. */
function signalOf(seq: number, n: number, payload: SignalPayload<AuthSignalName>): FlowViewSignal {
  const { type, request, response: _response, run: _run, connect: _connect, ...fields } = payload as SignalPayload<AuthSignalName> & {
    readonly response?: unknown;
    readonly connect?: unknown;
  };
  const url = new URL(request.request.url);
  return {
    seq,
    request: {
      n,
      method: request.request.method,
      path: url.pathname,
      client: request.client,
      ip: request.ip,
      userAgent: request.userAgent,
      userId: request.user?.id ?? null,
    },
    name: type,
    payload: JSON.parse(JSON.stringify(fields)) as Record<string, unknown>,
  };
}

const encoder = new TextEncoder();

/** The catalogue's charts, drawn once per process on the first visit of any view (elkjs takes a few seconds). */
let charts: Promise<ReadonlyArray<{ readonly slug: string; readonly svg: string }>> | null = null;
function drawCharts(): Promise<ReadonlyArray<{ readonly slug: string; readonly svg: string }>> {
  charts ??= Promise.all(
    Object.entries(machines).map(async ([slug, machine]) => ({ slug, svg: await statechartSvg(machine, { title: slug }) })),
  );
  // A failed drawing (elkjs missing) is tried again on the next visit.
  charts.catch(() => {
    charts = null;
  });
  return charts;
}

function sse(event: "signal" | "flow", data: FlowViewSignal | FlowViewState): Uint8Array {
  return encoder.encode(`id: ${data.seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

const securityHeaders = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

export function createFlowView(options: FlowViewOptions = {}): FlowView {
  if (globalThis.process?.env?.["NODE_ENV"] === "production" && options.allowInProduction !== true) {
    throw Object.assign(
      new Error(
        'authmachines/devtools: createFlowView refuses to start because NODE_ENV is "production": the flow view is a development tool that shows every user\'s emails and ids to whoever opens it. Leave it out of production builds (or pass { allowInProduction: true } if you really mean it).',
      ),
      { code: "ERR_FLOW_VIEW_IN_PRODUCTION" },
    );
  }
  const basePath = (options.basePath ?? "/flows").replace(/\/+$/, "");
  if (!basePath.startsWith("/") || basePath === "") {
    throw new TypeError('authmachines/devtools: basePath must be a path such as "/flows"');
  }
  const keep = options.history ?? 500;

  let seq = 0;
  let requests = 0;
  let closed = false;
  const requestNumbers = new WeakMap<Request, number>();
  const signals: Array<FlowViewSignal> = [];
  const flows = new Map<string, FlowViewState>();
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const detachers = new Set<() => void>();
  // A comment line now and then keeps idle streams open through proxies.
  const heartbeat = setInterval(() => broadcast(encoder.encode(": keep-alive\n\n")), 15_000);
  heartbeat.unref?.();

  const broadcast = (chunk: Uint8Array): void => {
    for (const controller of streams) {
      try {
        controller.enqueue(chunk);
      } catch {
        streams.delete(controller);
      }
    }
  };

  // A step's snapshots come in bursts: the last one per machine is sent once the burst is over.
  const pending = new Set<string>();
  let flushing = false;
  const flush = (): void => {
    flushing = false;
    for (const slug of pending) {
      const state = flows.get(slug);
      if (state !== undefined) {
        broadcast(sse("flow", state));
      }
    }
    pending.clear();
  };

  const inspect = (event: InspectionEvent): void => {
    try {
      if (closed || (event.type !== "@xstate.snapshot" && event.type !== "@xstate.actor")) {
        return;
      }
      const actor = event.actorRef as { logic?: unknown; getSnapshot?: () => unknown };
      const logic = actor.logic as AnyStateMachine | undefined;
      const slug = logic === undefined ? undefined : slugById.get(logic.id);
      if (logic === undefined || slug === undefined || logic.root === undefined) {
        return;
      }
      const snapshot = (event.type === "@xstate.snapshot" ? event.snapshot : actor.getSnapshot?.()) as
        | { readonly value?: StateValue; readonly status?: string }
        | undefined;
      // The step stops its actor once the flow rests: that snapshot says "stopped" about a flow
      // that is still pending, so the one before it stands.
      if (snapshot?.value === undefined || snapshot.status === "stopped") {
        return;
      }
      flows.set(slug, {
        seq: ++seq,
        machine: slug,
        value: JSON.parse(JSON.stringify(snapshot.value)) as StateValue,
        stateIds: stateIdsOf(logic, snapshot.value),
        status: snapshot.status ?? "active",
      });
      pending.add(slug);
      if (!flushing) {
        flushing = true;
        setImmediate(flush);
      }
    } catch {
      // The view must never break a flow.
    }
  };

  const receive = (payload: SignalPayload<AuthSignalName>): void => {
    try {
      if (closed) {
        return;
      }
      const request = payload.request.request;
      let n = requestNumbers.get(request);
      if (n === undefined) {
        n = ++requests;
        requestNumbers.set(request, n);
      }
      const signal = signalOf(++seq, n, payload);
      signals.push(signal);
      if (signals.length > keep) {
        signals.splice(0, signals.length - keep);
      }
      broadcast(sse("signal", signal));
    } catch {
      // The view must never abort a step.
    }
  };

  const attach = (auth: Pick<Auth, "signals">): (() => void) => {
    const offs = authSignalNames.map((name) => auth.signals.on(name, receive as never));
    const detach = (): void => {
      offs.forEach((off) => off());
      detachers.delete(detach);
    };
    detachers.add(detach);
    return detach;
  };

  const owns = (pathname: string): boolean => pathname === basePath || pathname.startsWith(`${basePath}/`);

  // The page around the charts is rendered on each visit.
  const renderPage = async (): Promise<string> => flowViewPage(basePath, await drawCharts(), flows);

  const stream = (request: Request): Response => {
    const after = Number(request.headers.get("last-event-id") ?? "0");
    let self: ReadableStreamDefaultController<Uint8Array> | null = null;
    const end = (): void => {
      if (self !== null) {
        streams.delete(self);
        try {
          self.close();
        } catch {
          // Already closed.
        }
      }
    };
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        self = controller;
        controller.enqueue(encoder.encode("retry: 2000\n\n"));
        // The recent history first, in order, then the machines' latest states; then live.
        const history = [...signals.filter((signal) => signal.seq > after).map((signal) => sse("signal", signal))];
        history.forEach((chunk) => controller.enqueue(chunk));
        for (const state of flows.values()) {
          controller.enqueue(sse("flow", state));
        }
        streams.add(controller);
        request.signal.addEventListener("abort", end, { once: true });
      },
      cancel() {
        if (self !== null) {
          streams.delete(self);
        }
      },
    });
    return new Response(body, {
      headers: { ...securityHeaders, "content-type": "text/event-stream; charset=utf-8", connection: "keep-alive" },
    });
  };

  const handler = async (request: Request): Promise<Response> => {
    const { pathname } = new URL(request.url);
    if (!owns(pathname)) {
      return new Response("not found", { status: 404, headers: securityHeaders });
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed", { status: 405, headers: { ...securityHeaders, allow: "GET, HEAD" } });
    }
    if (closed) {
      return new Response("the flow view is closed", { status: 503, headers: securityHeaders });
    }
    const rest = pathname.slice(basePath.length);
    switch (rest) {
      case "":
      case "/":
        return new Response(await renderPage(), { headers: { ...securityHeaders, "content-type": "text/html; charset=utf-8" } });
      case "/events":
        return stream(request);
      case "/view.js":
        return new Response(flowViewScript, { headers: { ...securityHeaders, "content-type": "text/javascript; charset=utf-8" } });
      case "/view.css":
        return new Response(flowViewStyle, { headers: { ...securityHeaders, "content-type": "text/css; charset=utf-8" } });
      case "/icon.svg":
        return new Response(flowViewIcon, { headers: { ...securityHeaders, "content-type": "image/svg+xml" } });
      default:
        return new Response("not found", { status: 404, headers: securityHeaders });
    }
  };

  const close = (): void => {
    closed = true;
    clearInterval(heartbeat);
    for (const detach of [...detachers]) {
      detach();
    }
    for (const controller of streams) {
      try {
        controller.close();
      } catch {
        // Already closed.
      }
    }
    streams.clear();
  };

  return { inspect, attach, owns, handler, close };
}
