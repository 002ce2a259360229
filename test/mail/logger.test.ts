/**
 * The `logger` option (issue #11 item 6): warnings reach `warn`, failures reach `error` with
 * the error itself (its code, cause and stack); `report`, when given, still takes everything.
 */
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createAuth } from "../../src/auth.ts";
import type { Auth } from "../../src/auth.ts";
import type { AuthConfig, Logger } from "../../src/config.ts";
import { unknownIpWarning } from "../../src/http/handler.ts";
import { MailRenderError } from "../../src/runtime/render-mails.ts";
import { fastHasher } from "../http/support.ts";
import { goodPassword, testSecret } from "../support/harness.ts";

interface Recording extends Logger {
  readonly calls: Array<readonly [keyof Logger, ReadonlyArray<unknown>]>;
}

function recordingLogger(): Recording {
  const calls: Recording["calls"] = [];
  return {
    calls,
    error: (...args) => void calls.push(["error", args]),
    warn: (...args) => void calls.push(["warn", args]),
    info: (...args) => void calls.push(["info", args]),
  };
}

/** A port nothing listens on: a server's, once it closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let auth: Auth | undefined;
afterEach(async () => {
  await auth?.close();
  auth = undefined;
});

const config = (extra: Partial<AuthConfig>): AuthConfig => ({
  secret: testSecret,
  database: "sqlite::memory:",
  passwordHasher: fastHasher,
  account: { loginMethods: ["email"], emailVerification: "mandatory" },
  outbox: { pollIntervalMs: false },
  ...extra,
});

async function signup(target: Auth, ip: { ip: string } | undefined): Promise<number> {
  const request = new Request("http://127.0.0.1/_allauth/app/v1/auth/signup", {
    method: "POST",
    headers: { "content-type": "application/json", "user-agent": "vitest" },
    body: JSON.stringify({ email: "ann@example.com", password: goodPassword }),
  });
  const response = await target.handler(request, ip);
  await target.outbox.settled();
  return response.status;
}

describe("logger", () => {
  it("a refused SMTP connection reaches logger.error with ECONNREFUSED and its stack, and nothing of the mail", async () => {
    const logger = recordingLogger();
    auth = await createAuth(config({ mailer: `smtp://127.0.0.1:${await closedPort()}`, logger }));
    expect(await signup(auth, { ip: "10.9.0.1" })).toBe(401);

    expect(logger.calls.map(([level]) => level)).toEqual(["error"]);
    const [, [message, error]] = logger.calls[0]!;
    expect(message).toMatch(/^authmachines: outbox delivery failed \([^)]+\):$/);
    expect(error).toBeInstanceOf(Error);
    expect((error as { code?: unknown }).code).toBe("ECONNREFUSED");
    const stack = (error as Error).stack ?? "";
    expect(stack).toMatch(/ECONNREFUSED/);
    expect(stack).toMatch(/\n\s+at /);
    expect(stack).not.toMatch(/verify-email/);
    const [row] = await auth.outbox.list("pending");
    expect(row).toMatchObject({ kind: "mail", attempts: 1, lastError: expect.stringMatching(/ECONNREFUSED/) });
  });

  it("the console mailer's notice and a handler given no IP reach logger.warn, once each", async () => {
    const logger = recordingLogger();
    auth = await createAuth(config({ mailer: { send: async () => undefined }, logger }));
    expect(logger.calls).toEqual([]);
    expect(await signup(auth, undefined)).toBe(401);
    expect(await signup(auth, undefined)).toBe(401);
    expect(logger.calls).toEqual([["warn", [`authmachines: ${unknownIpWarning}`]]]);
    await auth.close();

    const quiet = recordingLogger();
    auth = await createAuth(config({ mailer: "console", logger: quiet }));
    expect(quiet.calls).toEqual([
      ["warn", ['authmachines: warning: the "console" mailer prints every mail, keys and codes included, to stdout (development only)']],
    ]);
  });

  it("report, when given, still takes warnings and failures, and the logger hears nothing", async () => {
    const logger = recordingLogger();
    const reports: Array<readonly [string, unknown]> = [];
    auth = await createAuth(config({ mailer: `smtp://127.0.0.1:${await closedPort()}`, logger }), {
      report: (message, error) => void reports.push([message, error]),
    });
    expect(await signup(auth, undefined)).toBe(401);
    expect(reports.map(([message, error]) => [message.replace(/^outbox delivery failed \(.*\)$/, "outbox delivery failed (id)"), (error as { code?: unknown } | undefined)?.code])).toEqual([
      [unknownIpWarning, undefined],
      ["outbox delivery failed (id)", "ECONNREFUSED"],
    ]);
    expect(logger.calls).toEqual([]);
  });

  it("a failing mail.render reaches logger.error as a MailRenderError with its cause", async () => {
    const logger = recordingLogger();
    const broken = new Error("template missing");
    const render = (): never => {
      throw broken;
    };
    auth = await createAuth(config({ mailer: { send: async () => undefined }, logger, mail: { render } }));
    expect(await signup(auth, { ip: "10.9.0.2" })).toBe(500);
    expect(logger.calls).toHaveLength(1);
    const [level, [message, error]] = logger.calls[0]!;
    expect([level, message]).toEqual(["error", "authmachines: request failed:"]);
    expect(error).toBeInstanceOf(MailRenderError);
    expect(error).toMatchObject({ code: "ERR_MAIL_RENDER", kind: "verification", cause: broken });
    expect((error as Error).stack).toMatch(/\n\s+at /);
  });

  it("is refused unless it has error, warn and info", async () => {
    await expect(createAuth(config({ logger: { error: () => undefined } as never }))).rejects.toThrow(
      "logger: expected an object with error, warn and info methods (console is one), got an object",
    );
  });
});
