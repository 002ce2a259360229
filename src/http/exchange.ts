/**
 * One HTTP exchange: which client (browser cookie session with CSRF, or app session token), the
 * request as receivers see it, and running a flow step — machine, receivers, commit, then mail —
 * before the response goes out.
 */
import { Effect } from "effect";
import type { ResolvedConfig } from "../config.ts";
import { renderMails } from "../runtime/render-mails.ts";
import { anonymousSession, loadSession, saveUnsavedSession } from "../runtime/session.ts";
import type { AuthEvent } from "../runtime/auth-events.ts";
import type { GroupCommitter } from "../runtime/group-commit.ts";
import type { Outbox } from "../runtime/outbox.ts";
import type { SignalBus } from "../runtime/signal-bus.ts";
import { Step, causedBy, currentTime } from "../runtime/step.ts";
import type { AppRuntime, Inspect, RequestInfo, SessionState } from "../runtime/step.ts";
import { markSessionSeen, touchSession } from "../storage/sessions.ts";
import type { HitCheck } from "../storage/rate-limits.ts";
import { csrfCookieValid, csrfTokenMatches, issueCsrfToken } from "./csrf.ts";
import type { RequestOrigin } from "./host.ts";
import { takeEdgeHits } from "./rate-limit.ts";
import type { Outcome } from "./responses.ts";
import { render } from "./responses.ts";

export interface HandlerDeps {
  readonly runtime: AppRuntime;
  readonly config: ResolvedConfig;
  readonly bus: SignalBus;
  /** Reports failures that do not change the response (mail transport, after-commit receivers). */
  readonly report: (message: string, error: unknown) => void;
  readonly outbox: Outbox;
  /** The authentication log (`logger.info`). */
  readonly audit?: (event: AuthEvent) => void;
  /** Sees every flow actor (the XState inspector). */
  readonly inspect?: Inspect;
  /** `sqliteGroupCommit` on a SQLite database: steps write in groups sharing one COMMIT. */
  readonly committer?: GroupCommitter;
}

export const sessionCookie = "sessionid";
/** The session cookie's name under `hostPrefixedCookies` (SECURITY.md SE-09). */
export const hostSessionCookie = "__Host-sessionid";
export const csrfCookie = "csrftoken";

function parseCookies(header: string | null): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? "").split(";")) {
    const index = part.indexOf("=");
    if (index > 0) {
      const name = part.slice(0, index).trim();
      if (!cookies.has(name)) {
        cookies.set(name, part.slice(index + 1).trim());
      }
    }
  }
  return cookies;
}

/** Whether `outcome` is a 429. */
const isRateLimited = (outcome: Outcome): boolean =>
  (outcome.kind === "status" && outcome.status === 429) ||
  (outcome.kind === "errors" && outcome.errors.some((e) => e.code === "rate_limited"));

export class Exchange {
  readonly info: RequestInfo;
  readonly #cookies: Map<string, string>;
  /** The session as this request first read it (at admission, or by its endpoint). */
  #admitted: Promise<SessionState> | null = null;

  constructor(
    readonly deps: HandlerDeps,
    readonly request: Request,
    readonly client: "browser" | "app",
    ip: string,
    readonly origin: RequestOrigin,
  ) {
    this.#cookies = parseCookies(request.headers.get("cookie"));
    this.info = { request, client, ip, userAgent: request.headers.get("user-agent") ?? "", origin: origin.origin };
  }

  /** The session token the client sent. */
  get token(): string | null {
    return this.client === "app"
      ? this.request.headers.get("x-session-token")
      : (this.#cookies.get(this.#sessionCookie) ?? null);
  }

  get #sessionCookie(): string {
    return this.deps.config.hostPrefixedCookies ? hostSessionCookie : sessionCookie;
  }

  /** The session cookie a CSRF token is bound to ("" for a browser without one). */
  get #csrfBinding(): string {
    return this.#cookies.get(this.#sessionCookie) ?? "";
  }

  /** A form's `csrfmiddlewaretoken` checked as the header would be (browser form POSTs). */
  csrfTokenOk(token: string | null): boolean {
    return csrfTokenMatches(this.deps.config.secret, this.#csrfBinding, this.#cookies.get(csrfCookie), token);
  }

  /**
   * Browser clients: an unsafe method needs `X-CSRFToken` holding the token of the `csrftoken`
   * cookie, issued for this browser's session (`csrf.ts`).
   */
  csrfOk(): boolean {
    if (this.client === "app" || ["GET", "HEAD", "OPTIONS"].includes(this.request.method)) {
      return true;
    }
    return this.csrfTokenOk(this.request.headers.get("x-csrftoken"));
  }

  /**
   * The session as the request found it: one query, shared by admission, the endpoint and its
   * step. The handler has the whole body before it asks (`bufferBody`), so a session ended while
   * a slow body was on its way is seen ended; the step's transaction starts from this read.
   */
  loadSession(): Promise<SessionState> {
    // No token, nothing to read: no effect run either.
    this.#admitted ??=
      this.token === null
        ? Promise.resolve(anonymousSession(currentTime(this.deps.runtime)))
        : this.deps.runtime.runPromise(loadSession(this.token));
    return this.#admitted;
  }

  /**
   * Before any endpoint: an app token that names no live session answers 410 everywhere (allauth's
   * `authentication_context`), and `usersessions.trackActivity` stamps the session as seen (as
   * does `sessionIdleTimeout`, for any live session).
   */
  async admit(): Promise<Response | null> {
    const track = this.deps.config.usersessions?.trackActivity === true;
    const idle = this.deps.config.sessionIdleTimeout !== null && this.token !== null;
    if (!track && !idle && (this.client !== "app" || this.token === null)) {
      return null;
    }
    const session = await this.loadSession();
    if (session.gone && this.client === "app") {
      return this.respond({ kind: "unauthorized", status: 410 }, session);
    }
    if (session.id !== null && ((track && session.user !== null) || idle)) {
      const now = this.#now();
      await this.deps.runtime.runPromise(
        track && session.user !== null
          ? touchSession(session.id, now, this.info.ip, this.info.userAgent.slice(0, 512))
          : markSessionSeen(session.id, now),
      );
    }
    return null;
  }

  /** Answers without touching the database's write side. */
  async respond(outcome: Outcome, session?: SessionState): Promise<Response> {
    const current = session ?? (await this.loadSession());
    if (current.gone && this.client === "app") {
      return this.#response({ kind: "unauthorized", status: 410 }, current, current);
    }
    return this.#response(outcome, current, current);
  }

  /**
   * Answers without a step, the request's own limit taken first (allauth's decorator counts
   * every request): 429 when one of `hits` is spent.
   */
  async respondCounted(hits: ReadonlyArray<HitCheck>, outcome: Outcome, session?: SessionState): Promise<Response> {
    if (!(await takeEdgeHits(this.deps.runtime, hits))) {
      return this.respond({ kind: "status", status: 429 }, session);
    }
    return this.respond(outcome, session);
  }

  /**
   * Runs one flow step. `body` drives machines and returns the outcome; then the in-step
   * receivers run (a throw rolls the whole step back), the step commits, and only then do its
   * mails go out and its after-commit receivers run.
   */
  async step(body: (step: Step) => Promise<Outcome>, owed: ReadonlyArray<HitCheck> = []): Promise<Response> {
    const before = await this.loadSession();
    if (before.gone && this.client === "app") {
      await takeEdgeHits(this.deps.runtime, owed);
      return this.respond({ kind: "unauthorized", status: 410 }, before);
    }
    const step = new Step(this.deps.runtime, this.info, before, this.deps.committer ?? null);
    step.inspect = this.deps.inspect;
    step.owedHits = owed;
    const committed = { value: false };
    try {
      return await this.#step(step, before, body, committed);
    } finally {
      await this.#logAuthEvents(step, committed.value).catch((error: unknown) => this.deps.report("authentication log failed", error));
    }
  }

  /** Hands the step's authentication events to the log, and a committed login's start. */
  async #logAuthEvents(step: Step, committed: boolean): Promise<void> {
    const audit = this.deps.audit;
    if (audit === undefined) {
      return;
    }
    const started = committed
      ? step.signals
          .filter((emitted) => emitted.signal.type === "user_logged_in")
          .map((emitted) => ({
            action: "session_started" as const,
            outcome: "success" as const,
            method: step.session.data.methods?.at(-1)?.method ?? "unknown",
            userId: emitted.signal.type === "user_logged_in" ? emitted.signal.user.id : null,
            identifier: null,
          }))
      : [];
    const events = [...step.authEvents, ...started];
    if (events.length === 0) {
      return;
    }
    const at = new Date(this.#now()).toISOString();
    for (const event of events) {
      audit({ event: "authentication", ...event, ip: this.info.ip, at });
    }
  }

  async #step(step: Step, before: SessionState, body: (step: Step) => Promise<Outcome>, committed: { value: boolean }): Promise<Response> {
    let response: Response;
    let ids: ReadonlyArray<string> = [];
    try {
      const answered = await body(step);
      if (!isRateLimited(answered) && !step.discardWrites) {
        // The endpoint's own limit, in this step's transaction: no commit of its own.
        await step.takeOwedHits();
      }
      const outcome: Outcome = step.edgeLimited ? { kind: "status", status: 429 } : answered;
      if (step.sessionUnsaved) {
        await step.write(saveUnsavedSession(step));
      }
      if (outcome.kind === "errors" && outcome.errors.some((e) => e.code === "unexpected")) {
        // A defect (database, bug) is not the client's error: roll back and answer 500 (503 when
        // the defect the step met says the database cannot be reached).
        throw new Error("a flow ended with an unexpected failure", causedBy(step));
      }
      if (isRateLimited(outcome) || step.discardWrites) {
        // A limit hit mid-step (a code mail under `confirm_email`): nothing of the step stays,
        // no receiver hears of it, and the session is answered as it was.
        await step.rollback();
        return this.#response(outcome, before, before);
      }
      if (this.request.signal.aborted) {
        // The client went away before the step committed (`toNodeListener` aborts the signal):
        // nothing of it stays, and no receiver hears of it. Nobody reads this answer.
        await step.rollback();
        return new Response(null, { status: 499 });
      }
      // Rendered before any receiver runs: a failing `mail.render` fails the step (500, rolled back).
      const mails = await renderMails(step, this.deps.config);
      response = await this.#response(outcome, step.session, before);
      await this.deps.bus.deliver(step, response);
      ids = await this.deps.outbox.enqueue(step, mails);
      await step.commit();
      committed.value = true;
    } catch (error) {
      await step.rollback().catch(() => undefined);
      throw error;
    }
    if (ids.length > 0) {
      // Sent after the response, never before it: a request for a known account takes as long
      // as one for an unknown address (no mail). A failure here is retried by the outbox.
      void this.deps.outbox.deliver(ids).catch((error: unknown) => this.deps.report("outbox delivery failed", error));
    }
    return response;
  }

  /** The runtime's clock, read without a fiber (`createAuth` built the runtime before any request). */
  #now(): number {
    return currentTime(this.deps.runtime);
  }

  async #response(outcome: Outcome, session: SessionState, before: SessionState): Promise<Response> {
    if (outcome.kind === "response") {
      return outcome.response;
    }
    const now = this.#now();
    const openForSignup = await this.deps.config.adapter.isOpenForSignup(this.request);
    const { status, body } = render(outcome, { config: this.deps.config, client: this.client, session, now, openForSignup });
    const headers = new Headers({ "cache-control": "no-store" });
    if (outcome.kind === "redirect") {
      headers.set("location", outcome.location);
    }
    if (body !== null) {
      headers.set("content-type", "application/json");
    }
    if (this.client === "browser") {
      // A `__Host-` cookie is only kept by browsers when it is Secure.
      const secure = this.deps.config.hostPrefixedCookies || (this.deps.config.secureCookies ?? this.origin.secure);
      const flags = `Path=/; SameSite=Lax${secure ? "; Secure" : ""}`;
      let binding = this.#csrfBinding;
      if (session.newToken !== null) {
        headers.append("set-cookie", `${this.#sessionCookie}=${session.newToken}; ${flags}; HttpOnly; Max-Age=1209600`);
        binding = session.newToken;
      } else if ((before.id !== null || before.gone) && session.id === null) {
        headers.append("set-cookie", `${this.#sessionCookie}=; ${flags}; HttpOnly; Max-Age=0`);
        binding = "";
      }
      // The token follows the session cookie: a new session (a login) gets a new token, and a
      // missing, foreign or stale cookie is replaced (Django's `login()` rotates it too).
      if (!csrfCookieValid(this.deps.config.secret, binding, this.#cookies.get(csrfCookie)) || binding !== this.#csrfBinding) {
        headers.append("set-cookie", `${csrfCookie}=${issueCsrfToken(this.deps.config.secret, binding)}; ${flags}; Max-Age=31449600`);
      }
    }
    return new Response(body === null ? null : JSON.stringify(body), { status, headers });
  }
}
