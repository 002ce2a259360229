/**
 * `createAuth`: builds the services (database, hasher, mailer, tokens) as one Effect runtime,
 * and exposes the signal bus, the Fetch handler and the machines.
 */
import { Duration, Layer, ManagedRuntime } from "effect";
import { machines } from "../machines/index.ts";
import type { AuthConfig, Logger, ResolvedConfig } from "./config.ts";
import { resolveConfig } from "./config.ts";
import type { AuthHandler } from "./http/handler.ts";
import { createHandler } from "./http/handler.ts";
import { GroupCommitter } from "./runtime/group-commit.ts";
import { Outbox } from "./runtime/outbox.ts";
import { SignalBus } from "./runtime/signal-bus.ts";
import type { AppRuntime, AppServices, Inspect } from "./runtime/step.ts";
import { Mailer } from "./services/mailer.ts";
import { PasswordHasher } from "./services/password-hasher.ts";
import { Settings } from "./services/settings.ts";
import { Tokens } from "./services/tokens.ts";
import { databaseLayer } from "./storage/database.ts";
import { BusyTimeout } from "./storage/write-transaction.ts";
import { getSession } from "./runtime/get-session.ts";
import type { AuthSession, RequestHeaders } from "./runtime/get-session.ts";
import { hostSessionCookie, sessionCookie } from "./http/exchange.ts";

export interface Auth {
  /** Connect receivers: `on` (in-step, can abort the step) and `after` (after commit). */
  readonly signals: Pick<SignalBus, "on" | "after">;
  /** The allauth headless API as a Fetch handler. */
  readonly handler: AuthHandler;
  /**
   * Who is logged in, for the app's own routes: the user and how the session authenticated, or
   * null. Takes a fetch `Request` or a Node request (anything with `headers`); reads the
   * `X-Session-Token` header (app clients) or the session cookie (browsers), in one query.
   */
  readonly getSession: (request: { readonly headers: RequestHeaders }) => Promise<AuthSession | null>;
  /** The flow machines by slug, unprovided (see `authmachines/machines`). */
  readonly machines: typeof machines;
  /** The resolved configuration. */
  readonly config: ResolvedConfig;
  /** The Effect runtime the flows run on (for tests and advanced use). */
  readonly runtime: AppRuntime;
  /**
   * Mails and durable signals: drain due rows now, wait for the deliveries that responses started
   * (`settled`), list and retry dead-lettered ones.
   */
  readonly outbox: Pick<Outbox, "drain" | "settled" | "list" | "retry">;
  /** Stops the outbox poller (waiting for a drain in progress) and closes the database. */
  readonly close: () => Promise<void>;
}

export interface CreateAuthOptions {
  /**
   * Merged over the service layers: tests pass `TestContext.TestContext` to drive time; a tracer
   * layer (`@effect/opentelemetry`'s `NodeSdk.layer`, say) receives the spans when `tracing` is on.
   */
  readonly layer?: Layer.Layer<never>;
  /**
   * Effect's spans (`sql.execute` for each statement, `sql.transaction`) for the tracer `layer`
   * provides. Off by default: with no tracer they are thrown away, and each costs about 10 µs on
   * a step's path (`bench/RESULTS.md`).
   */
  readonly tracing?: boolean;
  /**
   * Replaces the `logger` option: every failure that changes no response (with its error), and
   * every warning (with `error` undefined), as one call. Kept for compatibility; prefer `logger`.
   */
  readonly report?: (message: string, error: unknown) => void;
  /**
   * An XState inspector that sees every flow actor of every request (the `inspect` option of
   * `createActor`): e.g. `createWebSocketInspector({ url, autoStart: false }).inspect` from
   * `@statelyai/inspect` (examples/inspector.ts), the live flow view's `view.inspect`
   * (`authmachines/devtools`), or any function of an `InspectionEvent`. Events hold ids, emails
   * and state values; passwords, codes and keys are `Secret` values that print "<redacted>".
   * (`createBrowserInspector` needs a browser window: in Node it shows nothing.)
   */
  readonly inspect?: Inspect;
}

function mailerLayer(config: ResolvedConfig): Layer.Layer<Mailer> {
  const mailer = config.mailer;
  if (typeof mailer !== "string") {
    return Mailer.layerCustom(mailer);
  }
  if (mailer === "console") {
    return Mailer.layerConsole;
  }
  if (mailer.startsWith("smtp://") || mailer.startsWith("smtps://")) {
    return Mailer.layerSmtp(mailer, config.defaultFromEmail);
  }
  throw Object.assign(new TypeError("mailer must be \"console\", an smtp:// URL or { send }"), {
    code: "ERR_INVALID_OPTION",
  });
}

/**
 * `report` over a logger: a warning (no error) goes to `warn`, a failure to `error` with the
 * error itself, so its code, cause and stack reach the log.
 */
export function loggerReport(logger: Logger): (message: string, error: unknown) => void {
  return (message, error) => {
    if (error === undefined) {
      logger.warn(`authmachines: ${message}`);
    } else {
      logger.error(`authmachines: ${message}:`, error);
    }
  };
}

export function appLayer(config: ResolvedConfig): Layer.Layer<AppServices> {
  const hasher =
    config.passwordHasher === "argon2id"
      ? PasswordHasher.layerArgon2id
      : PasswordHasher.layerCustom(config.passwordHasher);
  return Layer.mergeAll(
    databaseLayer(config.database, { migrate: config.migrate }),
    hasher,
    mailerLayer(config),
    Tokens.layer(config.secret),
    Settings.layer(config),
    Layer.succeed(BusyTimeout, Duration.millis(config.busyTimeoutMs)),
  );
}

export async function createAuth(options: AuthConfig, extra: CreateAuthOptions = {}): Promise<Auth> {
  const config = resolveConfig(options);
  const services = extra.tracing === true ? appLayer(config) : Layer.merge(appLayer(config), Layer.setTracerEnabled(false));
  const layer = extra.layer === undefined ? services : Layer.merge(services, extra.layer);
  const runtime: AppRuntime = ManagedRuntime.make(layer);
  await runtime.runtime();
  const bus = new SignalBus();
  const logger = options.logger ?? console;
  const report = extra.report ?? loggerReport(logger);
  if (config.mailer === "console") {
    report('warning: the "console" mailer prints every mail, keys and codes included, to stdout (development only)', undefined);
  }
  const rateLimitRetentionMs = Math.max(
    86_400_000,
    ...Object.values(config.account.rateLimits).flatMap((rules) => rules.map((rule) => rule.periodInSeconds * 1000)),
  );
  const outbox = new Outbox(runtime, bus, config.outbox, report, { secret: config.secret, webhooks: config.webhooks, rateLimitRetentionMs });
  outbox.start();
  const handler = createHandler({
    runtime,
    config,
    bus,
    report,
    outbox,
    audit: (event) => logger.info("authmachines: authentication", event),
    ...(extra.inspect === undefined ? {} : { inspect: extra.inspect }),
    // Ignored on PostgreSQL: its steps commit concurrently, each on a pooled connection.
    ...(config.sqliteGroupCommit !== null && config.database.startsWith("sqlite:")
      ? { committer: new GroupCommitter(runtime, { maxMembers: config.sqliteGroupCommit.maxSteps, maxMs: config.sqliteGroupCommit.maxMs }) }
      : {}),
  });
  return {
    signals: bus,
    handler,
    getSession: (request) =>
      runtime.runPromise(getSession(request.headers, config.hostPrefixedCookies ? hostSessionCookie : sessionCookie)),
    machines,
    config,
    runtime,
    outbox: {
      drain: () => outbox.drain(),
      settled: () => outbox.settled(),
      list: (status, limit) => outbox.list(status, limit),
      retry: (id) => outbox.retry(id),
    },
    close: async () => {
      await outbox.stop();
      await runtime.dispose();
    },
  };
}
