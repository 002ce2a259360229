/**
 * A real `createAuth` on an in-memory SQLite database with a capturing mailer, a recorder on
 * every signal, and HTTP clients that behave like an allauth headless frontend: the browser one
 * keeps cookies and sends the CSRF token, the app one keeps the session token.
 */
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";
import { authSignalNames } from "../../machines/signals.ts";
import type { AuthSignal } from "../../machines/signals.ts";
import { createAuth } from "../../src/auth.ts";
import type { Auth, CreateAuthOptions } from "../../src/auth.ts";
import type { AuthConfig } from "../../src/config.ts";
import type { SignalPayload } from "../../src/runtime/signal-bus.ts";
import type { Mail } from "../../src/services/mailer.ts";
import { testDatabase } from "./database.ts";
import { validateResponse } from "./openapi.ts";

export const testSecret = "test-secret-test-secret-test-secret-0123";
export const goodPassword = "correct horse battery staple 42";

export type Recorded = SignalPayload<AuthSignal["type"]>;

export interface Harness {
  readonly auth: Auth;
  readonly mails: Array<Mail>;
  readonly signals: Array<Recorded>;
  /** Signal names in emission order, then cleared. */
  readonly takeSignals: () => Array<string>;
  readonly takeMails: () => Array<Mail>;
  readonly browser: () => Client;
  readonly app: () => Client;
  readonly count: (table: string) => Promise<number>;
  readonly query: <T>(text: string, ...params: Array<unknown>) => Promise<ReadonlyArray<T>>;
  /** The names of the database's tables (SQLite or the test's PostgreSQL schema). */
  readonly tableNames: () => Promise<Array<string>>;
  readonly close: () => Promise<void>;
}

export interface ClientResponse {
  readonly status: number;
  readonly body: any;
  readonly headers: Headers;
}

export interface Client {
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ClientResponse>;
  readonly cookies: Map<string, string>;
  token: string | null;
}

function makeClient(auth: Auth, kind: "browser" | "app", ip: string): Client {
  const cookies = new Map<string, string>();
  const client: Client = {
    cookies,
    token: null,
    async request(method, path, body, extra = {}) {
      if (kind === "browser" && !cookies.has("csrftoken") && method !== "GET") {
        await client.request("GET", "config");
      }
      const headers: Record<string, string> = { "user-agent": "vitest", ...extra };
      if (body !== undefined) {
        headers["content-type"] = "application/json";
      }
      if (kind === "browser") {
        headers["cookie"] = [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");
        if (method !== "GET" && cookies.has("csrftoken") && !("x-csrftoken" in extra)) {
          headers["x-csrftoken"] = cookies.get("csrftoken")!;
        }
      } else if (client.token !== null) {
        headers["x-session-token"] = client.token;
      }
      const response = await auth.handler(
        new Request(`http://127.0.0.1/_allauth/${kind}/v1/${path}`, {
          method,
          headers,
          ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
        }),
        { ip },
      );
      // Mails and after-commit receivers run after the response; a test reads them once they have.
      await auth.outbox.settled();
      for (const cookie of response.headers.getSetCookie()) {
        const [pair] = cookie.split(";");
        const [name, value] = pair!.split("=") as [string, string];
        if (/Max-Age=0/.test(cookie)) {
          cookies.delete(name);
        } else {
          cookies.set(name, value);
        }
      }
      const text = await response.text();
      // Django's bare 400 for an unreadable body is empty and not JSON: `body` is then null.
      const json = (text === "" ? null : JSON.parse(text)) as any;
      // Every answer is one the spec (or an exemption in openapi.ts) allows.
      await validateResponse(method, path, kind, response.status, json);
      if (kind === "app" && typeof json?.meta?.session_token === "string") {
        client.token = json.meta.session_token;
      }
      return { status: response.status, body: json, headers: response.headers };
    },
  };
  return client;
}

export async function harness(config: Partial<AuthConfig> = {}, options: CreateAuthOptions = {}): Promise<Harness> {
  const mails: Array<Mail> = [];
  const signals: Array<Recorded> = [];
  const db = config.database === undefined ? await testDatabase() : { url: config.database, reset: async () => undefined };
  const auth = await createAuth(
    {
      secret: testSecret,
      database: db.url,
      mailer: { send: async (mail) => void mails.push(mail) },
      // The authentication log (logger.info) stays out of the test output.
      logger: { error: console.error, warn: console.warn, info: () => undefined },
      ...config,
    },
    { report: () => undefined, ...options },
  );
  for (const name of authSignalNames) {
    auth.signals.on(name, (payload) => void signals.push(payload as Recorded));
  }
  let ips = 0;
  // Tests write `?` placeholders; PostgreSQL wants `$1, $2, …`.
  const query = <T>(text: string, ...params: Array<unknown>) =>
    auth.runtime.runPromise(
      Effect.flatMap(SqlClient.SqlClient, (sql) => {
        let n = 0;
        const statement = sql.onDialectOrElse({ pg: () => text.replace(/\?/g, () => `$${++n}`), orElse: () => text });
        return sql.unsafe<T & object>(statement, params as Array<never>);
      }),
    ) as Promise<ReadonlyArray<T>>;
  await db.reset((text) => query(text));
  return {
    auth,
    mails,
    signals,
    takeSignals: () => signals.splice(0).map((s) => s.type),
    takeMails: () => mails.splice(0),
    browser: () => makeClient(auth, "browser", `10.0.0.${++ips}`),
    app: () => makeClient(auth, "app", `10.0.1.${++ips}`),
    tableNames: async () =>
      (
        await auth.runtime.runPromise(
          Effect.flatMap(SqlClient.SqlClient, (sql) =>
            sql.onDialectOrElse({
              pg: () => sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()`,
              orElse: () => sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`,
            }),
          ),
        )
      ).map((row) => row.name),
    count: async (table) => Number((await query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))[0]!.n),
    query,
    close: () => auth.close(),
  };
}

/** The link key in a verification mail. */
export function keyFromMail(mail: Pick<Mail, "subject" | "text">): string {
  const match = /verify-email\/([^\s]+)/.exec(mail.text);
  if (match === null) {
    throw new Error(`no key in mail: ${mail.subject}`);
  }
  return decodeURIComponent(match[1]!);
}

/** The code in a code mail (its own line, XXXX-XXXX). */
export function codeFromMail(mail: Pick<Mail, "subject" | "text">): string {
  const match = /^([A-Z]{4}-[A-Z]{4})$/m.exec(mail.text);
  if (match === null) {
    throw new Error(`no code in mail: ${mail.subject}`);
  }
  return match[1]!;
}
