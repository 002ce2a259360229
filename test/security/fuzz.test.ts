/**
 * A property-based fuzzer over every HTTP endpoint (issue #10): one run per client (`browser`,
 * `app`) on the project's database (sqlite or postgres), 2,600 generated requests each, so a CI
 * run sends 10,400.
 *
 * Generated (`fuzz-arbitraries.ts`):
 *  - targets: every route of `src/http/handler.ts` (`routes`, `socialRoutes`, `userSessionRoutes`;
 *    `usersessions` is on and the `dummy` and `github` providers are configured), with or without
 *    a trailing slash, mostly on the client's own prefix, sometimes on the other's; the pages
 *    `/accounts/dummy/login/` and `/accounts/<provider>/login/callback/` (a real provider, the
 *    dummy, an unknown one, an undecodable one); unknown paths (`__proto__`, `%2e%2e`, `v2`);
 *  - methods: the route's own, others, lowercase ones, `FOO`, `__proto__`; query strings;
 *  - bodies: JSON objects with the route's fields or others, holding wrong types (numbers,
 *    arrays, objects, null), 100k-character strings, control characters, NUL, RTL overrides,
 *    zero-width, NFKC-changing and case-changing characters, homoglyphs, lone surrogates,
 *    `__proto__`, duplicate keys in the raw text; well-formed bodies whose values are plausible
 *    (so signups, logins and code requests get through the input and write); malformed, cut-off
 *    or 5,000-deep JSON, bytes that are not UTF-8, forms; content types JSON, form, text/plain,
 *    multipart, UTF-16, none;
 *  - headers: the GET views' `X-Email-Verification-Key` / `X-Password-Reset-Key`, proxies'
 *    `X-Forwarded-*`, `Origin`; now and then a Host outside `allowedHosts`;
 *  - credentials, from a pool built at the start of each round of 250 requests on a fresh
 *    harness: a browser session and an app token that are logged in, pending a signup's email
 *    verification, pending a login code, logged out (dead); a browser with a CSRF cookie but no
 *    session; garbage; foreign (the other client's valid credential: an app token as the session
 *    cookie, a session cookie as `X-Session-Token`). CSRF: the session's own token in cookie and
 *    header, cookie only, header only, none, another browser's (foreign), own cookie with another
 *    browser's header (mismatch), garbage; the provider redirect form's `csrfmiddlewaretoken` alike.
 * A quarter of the requests go over HTTP to `toNodeListener` instead of to `auth.handler`.
 *
 * Asserted for every request:
 *  - never a 5xx; nothing reported as an unexpected failure; neither `auth.handler` nor the Node
 *    listener throws (rejects);
 *  - a JSON body is an object whose `status` is the HTTP status; 404 and 405 are exactly
 *    `{"status":…}` (`plain()` in the handler). Three other shapes are the handler's on purpose:
 *    Django's bare 400 (empty body, no content type) for an unreadable or too large body, a 302
 *    with a Location (provider redirect, callbacks, the dummy page's answer), and the dummy
 *    provider's HTML page (200, only on `/accounts/dummy/login/`);
 *  - a REFUSED request — any 4xx except 401 — changes no row of any table (`tableNames()`, every
 *    column of every row compared, before and after), sends no mail and emits no signal (counted
 *    once the outbox has settled). 401 is not a refusal: it is allauth's "not authenticated / a
 *    flow is pending" answer, and a signup or login that starts a stage (email verification,
 *    login code) writes and mails on a 401.
 * Exclusions from "refused writes nothing", both allauth's bookkeeping of a pending code flow
 * (no mail, no signal, no new row, and no other table or column, in either case):
 *  - a 400 naming a wrong or missing code (`incorrect_code` or `required` on `code`, or on `key`
 *    in code mode) counts the attempt: the flow's row (`auth_flow`) or the code's
 *    (`auth_verification`) changes, and the last allowed attempt ends the flow, which also takes
 *    the stage out of the session's `data` (allauth's `record_invalid_attempt`, and it counts a
 *    missing code: test/http/code-verification.test.ts);
 *  - a 409 from a code endpoint whose flow can no longer succeed (its code spent, replaced or
 *    timed out) ends that flow: its rows go and the session's `data` loses the stage (allauth's
 *    `abort_if_invalid` on resume).
 * Rate limits are off (`rateLimits: false`): a failed login's hit is allauth's legitimate write on
 * a refusal, and 429s would keep the fuzzer from the endpoints; the limits have their own suite
 * (`throttling.test.ts`). Activity tracking is off for the same reason (it stamps the session of
 * every request). Rounds alternate two account configurations: codes everywhere (verification,
 * password reset, login), or links for verification and reset with login by code.
 *
 * The seed is printed, and FUZZ_SEED replays a run (FUZZ_RUNS sends more requests, for a longer
 * hunt; FUZZ_DEBUG prints the answers by status and route, and each use of an exclusion). Requests of a round share its database, so a replay is exact from the run's start;
 * fast-check prints the failing request whole (long runs of one character shortened).
 */
import { createServer, request as httpRequest } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import { toNodeListener } from "../../src/http/node.ts";
import { onPostgres } from "../support/database.ts";
import { codeFromMail, goodPassword, harness, keyFromMail } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import { fastHasher } from "../http/support.ts";
import { fuzzRequest, nodeMethods } from "./fuzz-arbitraries.ts";
import type { ClientKind, CsrfPick, FuzzRequest, SessionPick } from "./fuzz-arbitraries.ts";

const requestsPerClient = Number(process.env["FUZZ_RUNS"] ?? 2_600);
const requestsPerRound = 250;
const seed = process.env["FUZZ_SEED"] === undefined ? Date.now() % 2 ** 31 : Number(process.env["FUZZ_SEED"]);
const project = onPostgres ? "postgres" : "sqlite";

const variants: ReadonlyArray<AuthConfig["account"]> = [
  {
    loginMethods: ["email"],
    emailVerification: "mandatory",
    emailVerificationByCodeEnabled: true,
    passwordResetByCodeEnabled: true,
    loginByCodeEnabled: true,
    rateLimits: false,
  },
  { loginMethods: ["email"], emailVerification: "mandatory", loginByCodeEnabled: true, rateLimits: false },
];

/** The credentials of one round, by name. */
interface Pool {
  readonly browser: Readonly<Record<"anonymous" | "loggedIn" | "pendingSignup" | "pendingCode" | "dead", ReadonlyMap<string, string>>>;
  readonly app: Readonly<Record<"loggedIn" | "pendingSignup" | "pendingCode" | "dead", string>>;
}

/** Counts by outcome, for one client's run. */
interface Tally {
  requests: number;
  refused: number;
  unauthorized: number;
  success: number;
  redirect: number;
  serverError: number;
  /** Refusals that used an exclusion: a counted wrong code, an ended flow. */
  wrongCode: number;
  endedFlow: number;
}

let server: Server;
let port: number;
/** The harness the Node listener serves (the current round's). */
let current: Harness | null = null;
const reports: Array<string> = [];
const histogram = new Map<string, number>();
const thrown: Array<unknown> = [];

beforeAll(async () => {
  const listener = toNodeListener(
    (request, options) => current!.auth.handler(request, options),
    (message) => void reports.push(`node listener: ${message}`),
  );
  server = createServer((req, res) => {
    listener(req, res).catch((error: unknown) => thrown.push(error));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function open(round: number): Promise<Harness> {
  return harness(
    {
      passwordHasher: fastHasher,
      usersessions: true,
      account: variants[round % variants.length],
      socialaccount: { providers: [{ type: "dummy" }, { type: "github", clientId: "fuzz-client", secret: "fuzz-secret" }] },
    },
    { report: (message) => void reports.push(message) },
  );
}

function ok(res: { status: number }, what: string, status = 200): void {
  if (res.status !== status) {
    throw new Error(`fuzz pool: ${what} answered ${res.status}`);
  }
}

/** Confirms `email`'s address from the last mail, by code or by link (the round's variant). */
async function confirm(h: Harness, client: Client, round: number): Promise<void> {
  const mail = h.takeMails().at(-1)!;
  const key = round % variants.length === 0 ? codeFromMail(mail) : keyFromMail(mail);
  const res = await client.request("POST", "auth/email/verify", { key });
  if (res.status === 401) {
    ok(await client.request("POST", "auth/login", { email: "alice@example.com", password: goodPassword }), "login after verification");
  } else {
    ok(res, "email verification");
  }
}

async function loggedIn(client: Client): Promise<Client> {
  ok(await client.request("POST", "auth/login", { email: "alice@example.com", password: goodPassword }), "login");
  return client;
}

/**
 * Alice (verified), Bob and Carol (signups waiting for verification), and a client of each kind
 * in each state. The login codes are asked for last: a login of Alice would end them.
 */
async function buildPool(h: Harness, round: number): Promise<Pool> {
  const alice = h.browser();
  ok(await alice.request("POST", "auth/signup", { email: "alice@example.com", password: goodPassword }), "signup", 401);
  await confirm(h, alice, round);
  const anonymous = h.browser();
  await anonymous.request("GET", "config");
  const pendingSignup = h.browser();
  ok(await pendingSignup.request("POST", "auth/signup", { email: "bob@example.com", password: goodPassword }), "signup", 401);
  const dead = await loggedIn(h.browser());
  const deadCookies = new Map(dead.cookies);
  ok(await dead.request("DELETE", "auth/session"), "logout", 401);

  const app = await loggedIn(h.app());
  const appPendingSignup = h.app();
  ok(await appPendingSignup.request("POST", "auth/signup", { email: "carol@example.com", password: goodPassword }), "signup", 401);
  const appDead = await loggedIn(h.app());
  const deadToken = appDead.token!;
  ok(await appDead.request("DELETE", "auth/session"), "logout", 401);

  const pendingCode = h.browser();
  ok(await pendingCode.request("POST", "auth/code/request", { email: "alice@example.com" }), "code request", 401);
  const appPendingCode = h.app();
  ok(await appPendingCode.request("POST", "auth/code/request", { email: "alice@example.com" }), "code request", 401);
  h.takeMails();
  h.takeSignals();
  return {
    browser: { anonymous: anonymous.cookies, loggedIn: alice.cookies, pendingSignup: pendingSignup.cookies, pendingCode: pendingCode.cookies, dead: deadCookies },
    app: { loggedIn: app.token!, pendingSignup: appPendingSignup.token!, pendingCode: appPendingCode.token!, dead: deadToken },
  };
}

/**
 * A header value as a client would put it on the wire: UTF-8 bytes read as Latin-1 (what Node
 * hands on), without the bytes no header may carry (NUL, CR, LF and other controls).
 */
function onTheWire(value: string): string {
  return Buffer.from(value, "utf8").toString("latin1").replace(/[\u0000-\u0008\u000a-\u001f\u007f]/g, "");
}

/** The cookies and headers `request` carries, looked up in `pool`. */
function credentials(pool: Pool, request: FuzzRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  const garbage = (pick: SessionPick | CsrfPick): string | null => (typeof pick === "object" ? pick.garbage : null);
  if (request.client === "app") {
    const pick = request.session;
    const token =
      typeof pick === "object"
        ? pick.garbage
        : pick === "none"
          ? null
          : pick === "anonymous"
            ? ""
            : pick === "foreign"
              ? pool.browser.loggedIn.get("sessionid")!
              : pool.app[pick];
    if (token !== null) {
      headers["x-session-token"] = onTheWire(token);
    }
    return headers;
  }
  const pick = request.session;
  const own: ReadonlyMap<string, string> =
    typeof pick === "object" || pick === "none" || pick === "foreign" ? pool.browser.anonymous : pool.browser[pick];
  const other = own === pool.browser.loggedIn ? pool.browser.pendingSignup : pool.browser.loggedIn;
  const cookies = new Map<string, string>();
  const session = garbage(pick) ?? (pick === "foreign" ? pool.app.loggedIn : (own.get("sessionid") ?? null));
  if (session !== null) {
    cookies.set("sessionid", session);
  }
  const csrf = request.csrf;
  const [cookie, header] =
    typeof csrf === "object"
      ? [csrf.garbage, csrf.garbage]
      : {
          own: [own.get("csrftoken"), own.get("csrftoken")],
          none: [undefined, undefined],
          cookieOnly: [own.get("csrftoken"), undefined],
          headerOnly: [undefined, own.get("csrftoken")],
          foreign: [other.get("csrftoken"), other.get("csrftoken")],
          mismatch: [own.get("csrftoken"), other.get("csrftoken")],
        }[csrf];
  if (cookie !== undefined) {
    cookies.set("csrftoken", cookie);
  }
  if (header !== undefined) {
    headers["x-csrftoken"] = onTheWire(header);
  }
  if (cookies.size > 0) {
    headers["cookie"] = onTheWire([...cookies].map(([k, v]) => `${k}=${v}`).join("; "));
  }
  return headers;
}

/** The CSRF token a form's `csrfmiddlewaretoken` carries. */
function formToken(pool: Pool, request: FuzzRequest, pick: CsrfPick): string | null {
  if (typeof pick === "object") {
    return pick.garbage;
  }
  const session = request.session;
  const own = typeof session === "object" || session === "none" || session === "foreign" ? pool.browser.anonymous : pool.browser[session];
  const other = own === pool.browser.loggedIn ? pool.browser.pendingSignup : pool.browser.loggedIn;
  return { own: own.get("csrftoken"), none: undefined, cookieOnly: undefined, headerOnly: own.get("csrftoken"), foreign: other.get("csrftoken"), mismatch: other.get("csrftoken") }[pick] ?? null;
}

interface Sent {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/** Sends `request` through `auth.handler` or over HTTP to the Node listener. */
async function send(h: Harness, pool: Pool, request: FuzzRequest): Promise<Sent> {
  const headers: Record<string, string> = { "user-agent": "fuzz" };
  for (const [name, value] of request.extra) {
    headers[name] = onTheWire(value);
  }
  Object.assign(headers, credentials(pool, request));
  let body: Uint8Array<ArrayBuffer> | null = null;
  const { body: b } = request;
  if (b.kind === "text") {
    body = new Uint8Array(Buffer.from(b.text, "utf8"));
  } else if (b.kind === "bytes") {
    body = Uint8Array.from(b.bytes);
  } else if (b.kind === "form") {
    const token = b.csrf === null ? null : formToken(pool, request, b.csrf);
    const fields = token === null ? b.fields : [...b.fields, ["csrfmiddlewaretoken", token] as const];
    body = new Uint8Array(Buffer.from(new URLSearchParams(fields.map(([k, v]) => [k, v])).toString(), "utf8"));
  }
  const contentType = b.kind === "form" ? "application/x-www-form-urlencoded" : request.contentType;
  if (contentType !== null && body !== null) {
    headers["content-type"] = contentType;
  }
  const method = request.method;
  if (["GET", "HEAD"].includes(method.toUpperCase())) {
    body = null;
  }
  const host = request.host ?? "127.0.0.1";
  // Node's own server answers 431 to headers over 16 KiB before any listener sees them.
  const headerBytes = Object.values(headers).reduce((n, v) => n + v.length, 0);
  if (request.channel === "node" && nodeMethods.includes(method) && headerBytes < 12_000) {
    // Node's client sends a DELETE or OPTIONS body unframed unless told its length.
    const length = body === null ? {} : { "content-length": String(body.byteLength) };
    return new Promise<Sent>((resolve, reject) => {
      const req = httpRequest(
        // A connection per request: no keep-alive race between requests decides an answer.
        { host: "127.0.0.1", port, method, path: `${request.path}${request.query}`, headers: { ...headers, ...length, host }, agent: false },
        (res) => {
          const chunks: Array<Buffer> = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const out = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
                out.append(name, v);
              }
            }
            resolve({ status: res.statusCode!, headers: out, text: Buffer.concat(chunks).toString("utf8") });
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body === null ? undefined : Buffer.from(body));
    });
  }
  let response: Response;
  try {
    response = await h.auth.handler(
      new Request(`http://${host}${request.path}${request.query}`, { method, headers, ...(body === null ? {} : { body }) }),
      { ip: "10.7.7.7" },
    );
  } catch (error) {
    thrown.push(error);
    throw error;
  }
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** Every table's rows, each row as JSON text, sorted (row order is not content). */
type Rows = Record<string, Array<string>>;

/** The rows, and (PostgreSQL) each table's digest they were read at. */
interface Snapshot {
  readonly rows: Rows;
  readonly digests: Readonly<Record<string, string>>;
}

/** The rows of `tables`, one query each (SQLite in memory answers faster than a digest would). */
async function readRows(h: Harness, tables: ReadonlyArray<string>): Promise<Rows> {
  const out: Rows = {};
  for (const t of tables) {
    out[t] = (await h.query<unknown>(`SELECT * FROM ${t}`)).map((r) => JSON.stringify(r)).sort();
  }
  return out;
}

/**
 * Every table's rows now. On PostgreSQL one round trip asks for a digest of each table's rows,
 * and only the tables whose digest moved since `last` are read again.
 */
async function snapshot(h: Harness, tables: ReadonlyArray<string>, last: Snapshot | null): Promise<Snapshot> {
  if (!onPostgres) {
    return { rows: await readRows(h, tables), digests: {} };
  }
  const digests = Object.fromEntries(
    (
      await h.query<{ t: string; d: string }>(
        tables.map((t) => `SELECT '${t}' AS t, md5(COALESCE(string_agg(x::text, '|' ORDER BY x::text), '')) AS d FROM ${t} x`).join(" UNION ALL "),
      )
    ).map((r) => [r.t, r.d]),
  );
  const moved = tables.filter((t) => last === null || last.digests[t] !== digests[t]);
  return { rows: { ...(last?.rows ?? {}), ...(await readRows(h, moved)) }, digests };
}

/** What the documented exclusions let a refused request do to one table. */
interface Allowance {
  /** Columns left out of the comparison. */
  readonly ignore?: ReadonlyArray<string>;
  /** `go`: rows may be deleted; `change`: rows may also change (but keep their id). No row may come. */
  readonly rows?: "go" | "change";
}

/** The tables whose rows differ, with the rows gone and the rows new (under `allow`). */
function changes(
  before: Rows,
  after: Rows,
  allow: Readonly<Record<string, Allowance>> = {},
): Record<string, { gone: Array<string>; new: Array<string> }> {
  const out: Record<string, { gone: Array<string>; new: Array<string> }> = {};
  for (const t of Object.keys(after)) {
    const { ignore = [], rows } = allow[t] ?? {};
    const view = (row: string): string => {
      if (ignore.length === 0 && rows !== "change") {
        return row;
      }
      const parsed = JSON.parse(row) as Record<string, unknown>;
      return JSON.stringify(rows === "change" ? { id: parsed["id"] } : Object.fromEntries(Object.entries(parsed).filter(([k]) => !ignore.includes(k))));
    };
    const was = new Set((before[t] ?? []).map(view));
    const is = new Set(after[t]!.map(view));
    const gone = rows === undefined ? [...was].filter((r) => !is.has(r)) : [];
    const added = [...is].filter((r) => !was.has(r));
    if (gone.length > 0 || added.length > 0) {
      out[t] = { gone: gone.map((r) => r.slice(0, 400)), new: added.map((r) => r.slice(0, 400)) };
    }
  }
  return out;
}

/**
 * The documented exclusions (see the header): what a refused request may do to a pending code
 * flow, by the answer; nothing for any other refusal.
 */
function allowanceFor(status: number, json: unknown): Readonly<Record<string, Allowance>> {
  if (status === 409) {
    // A flow that can no longer succeed is ended: its rows go, its session loses the stage.
    return { auth_flow: { rows: "go" }, auth_verification: { rows: "go" }, auth_session: { ignore: ["data"] } };
  }
  if (wrongCode(status, json)) {
    // The attempt is counted on the flow's or the code's row; the last one ends the flow.
    return { auth_flow: { rows: "change" }, auth_verification: { rows: "change" }, auth_session: { ignore: ["data"] } };
  }
  return {};
}

/** A 400 naming a wrong or missing code (`code`, or `key` in code mode). */
function wrongCode(status: number, json: unknown): boolean {
  const errors = (json as { errors?: Array<{ code?: string; param?: string }> } | null)?.errors;
  return (
    status === 400 &&
    Array.isArray(errors) &&
    errors.some((e) => (e.code === "incorrect_code" || e.code === "required") && (e.param === "code" || e.param === "key"))
  );
}

/** Checks the shape of one answer; returns its JSON body (or null). */
function checkShape(request: FuzzRequest, sent: Sent): unknown {
  expect(sent.status, "never a 5xx").toBeLessThan(500);
  const type = sent.headers.get("content-type");
  if (type === "application/json") {
    const json = JSON.parse(sent.text) as { status?: unknown };
    expect(json, "a JSON body is an object").toBeTypeOf("object");
    expect(json.status, "the JSON status is the HTTP status").toBe(sent.status);
    if (sent.status === 404 || sent.status === 405) {
      expect(json, "an unknown path or method answers its bare status").toEqual({ status: sent.status });
    }
    return json;
  }
  if (type?.startsWith("text/html") === true) {
    expect(request.path, "HTML only from the dummy provider's page").toBe("/accounts/dummy/login/");
    expect(sent.status).toBe(200);
    return null;
  }
  expect(type, "no other content type").toBeNull();
  expect(sent.text, "a body that is not JSON is empty").toBe("");
  if (sent.status === 302) {
    expect(sent.headers.get("location"), "a 302 says where").toEqual(expect.any(String));
  } else {
    expect(sent.status, "an empty body is Django's bare 400 or a redirect").toBe(400);
  }
  return null;
}

/** Counts one answer by kind. */
function count(tally: Tally, status: number): void {
  if (status >= 500) {
    tally.serverError += 1;
  } else if (status === 401) {
    tally.unauthorized += 1;
  } else if (status >= 400) {
    tally.refused += 1;
  } else if (status >= 300) {
    tally.redirect += 1;
  } else {
    tally.success += 1;
  }
}

/** One round: a fresh harness, its credential pool, and the rows as the last request left them. */
interface Round {
  readonly h: Harness;
  readonly pool: Pool;
  readonly tables: ReadonlyArray<string>;
  last: Snapshot;
  sent: number;
}

async function startRound(index: number): Promise<Round> {
  const h = await open(index);
  current = h;
  const pool = await buildPool(h, index);
  const tables = await h.tableNames();
  return { h, pool, tables, last: await snapshot(h, tables, null), sent: 0 };
}

/** A refusal: no signal, no mail, no row changed (but for the documented exclusions). */
function checkRefusal(tally: Tally, request: FuzzRequest, sent: Sent, json: unknown, news: { signals: Array<string>; mails: Array<string> }, was: Snapshot, now: Snapshot): void {
  expect(news.signals, `a refused ${sent.status} emits no signal`).toEqual([]);
  expect(news.mails, `a refused ${sent.status} sends no mail`).toEqual([]);
  const allowance = allowanceFor(sent.status, json);
  const changed = changes(was.rows, now.rows, allowance);
  const any = changes(was.rows, now.rows);
  if (Object.keys(allowance).length > 0 && Object.keys(any).length > 0) {
    tally[sent.status === 409 ? "endedFlow" : "wrongCode"] += 1;
    if (process.env["FUZZ_DEBUG"] !== undefined) {
      const kinds = any["auth_flow"]?.gone.map((r) => /"kind":"([^"]+)"/.exec(r)?.[1]).join(",");
      console.log(`allowed: ${sent.status} ${request.method} ${request.path} ${JSON.stringify(request.session)} ${sent.text.slice(0, 120)} flows: ${kinds}`);
    }
  }
  expect(JSON.stringify(changed, null, 1), `a refused ${sent.status} writes nothing (answer: ${sent.text.slice(0, 300)})`).toBe("{}");
}

async function fuzz(client: ClientKind, clientSeed: number): Promise<Tally> {
  const tally: Tally = { requests: 0, refused: 0, unauthorized: 0, success: 0, redirect: 0, serverError: 0, wrongCode: 0, endedFlow: 0 };
  let rounds = 0;
  let round: Round | null = null;
  try {
    await fc.assert(
      fc.asyncProperty(fuzzRequest(client), async (request) => {
        if (round === null || round.sent >= requestsPerRound) {
          await round?.h.close();
          round = await startRound(rounds++);
        }
        const { h } = round;
        round.sent += 1;
        tally.requests += 1;
        const mails = h.mails.length;
        const signals = h.signals.length;
        const sent = await send(h, round.pool, request);
        // Mails and after-commit receivers go out after the response.
        await h.auth.outbox.settled();
        const was = round.last;
        round.last = await snapshot(h, round.tables, was);
        count(tally, sent.status);
        expect(reports.splice(0), "nothing reported").toEqual([]);
        expect(thrown.splice(0), "nothing thrown").toEqual([]);
        const json = checkShape(request, sent);
        if (process.env["FUZZ_DEBUG"] !== undefined) {
          const key = `${sent.status} ${request.method} ${request.path.replace(/\/$/, "")}`;
          histogram.set(key, (histogram.get(key) ?? 0) + 1);
        }
        if (sent.status >= 400 && sent.status < 500 && sent.status !== 401) {
          const news = { signals: h.signals.slice(signals).map((s) => s.type), mails: h.mails.slice(mails).map((m) => m.subject) };
          checkRefusal(tally, request, sent, json, news, was, round.last);
        }
      }),
      { seed: clientSeed, numRuns: requestsPerClient, endOnFailure: false },
    );
  } catch (error) {
    // fast-check prints the counterexample whole: shorten the 100k-character strings.
    if (error instanceof Error) {
      error.message = error.message.replace(/(.)\1{199,}/gs, (run: string, c: string) => `${c.repeat(20)}…(${run.length} x ${JSON.stringify(c)})`);
    }
    throw error;
  } finally {
    await (round as Round | null)?.h.close();
    current = null;
  }
  return tally;
}

describe("fuzzing every endpoint", () => {
  it.each(["browser", "app"] as const)("%s: refused requests write nothing, status always matches, never a 5xx", async (client) => {
    const clientSeed = seed + (client === "app" ? 1 : 0);
    console.log(`fuzz[${project}/${client}]: seed ${clientSeed} (replay with FUZZ_SEED=${seed})`);
    const started = performance.now();
    const tally = await fuzz(client, clientSeed);
    console.log(
      `fuzz[${project}/${client}]: ${tally.requests} requests, ${tally.refused} refused (4xx), ${tally.unauthorized} x 401, ` +
        `${tally.success} x 2xx, ${tally.redirect} x 3xx, ${tally.serverError} x 5xx in ${Math.round(performance.now() - started)} ms; ` +
        `writes allowed on refusal: ${tally.wrongCode} counted codes, ${tally.endedFlow} ended flows`,
    );
    if (process.env["FUZZ_DEBUG"] !== undefined) {
      console.log([...histogram].sort((a, b) => a[0].localeCompare(b[0])).map(([k, n]) => `${n}\t${k}`).join("\n"));
      histogram.clear();
    }
    expect(tally.requests).toBeGreaterThanOrEqual(Math.min(2_500, requestsPerClient));
    expect(tally.serverError).toBe(0);
    // A run that only ever hit one kind of answer tested little.
    expect(tally.refused).toBeGreaterThan(500);
    expect(tally.unauthorized + tally.success + tally.redirect).toBeGreaterThan(100);
  }, 300_000);
});
