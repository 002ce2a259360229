/**
 * `createAuth` refuses a mistaken config before it opens anything: one `ConfigError` per mistake,
 * naming the path, what was expected and what was given. One test per kind of mistake.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createAuth } from "../../src/auth.ts";
import { ConfigError } from "../../src/config-schema.ts";
import type { AuthConfig } from "../../src/config.ts";
import { resolveConfig } from "../../src/config.ts";
import { testSecret } from "../support/harness.ts";

const dir = mkdtempSync(join(tmpdir(), "authmachines-config-"));
const database = `sqlite:${join(dir, "auth.db")}`;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What `createAuth` throws for `config` (over a valid base on a SQLite file). */
async function refusal(config: Record<string, unknown>): Promise<ConfigError> {
  const error = await createAuth({ secret: testSecret, database, mailer: { send: async () => undefined }, ...config } as AuthConfig).then(
    (auth) => {
      void auth.close();
      throw new Error("createAuth accepted the config");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  expect(readdirSync(dir), "no database file was created").toEqual([]);
  return error as ConfigError;
}

async function expectRefused(config: Record<string, unknown>, path: string, message: string): Promise<void> {
  const error = await refusal(config);
  expect({ path: error.path, message: error.message }).toEqual({ path, message: `${path}: ${message}` });
}

describe("unknown keys at any depth", () => {
  it("a typo at the top level names the setting it resembles", async () => {
    await expectRefused({ acount: { loginMethods: ["email"] } }, "acount", "unknown setting; did you mean account?");
  });

  it("a typo one level down names the setting with its path", async () => {
    await expectRefused(
      { account: { emailVerifcation: "mandatory" } },
      "account.emailVerifcation",
      "unknown setting; did you mean account.emailVerification?",
    );
  });

  it("allauth's snake_case name suggests the camelCase one", async () => {
    await expectRefused(
      { account: { login_methods: ["email"] } },
      "account.login_methods",
      "unknown setting; did you mean account.loginMethods? (settings are allauth's names in camelCase)",
    );
    await expectRefused(
      { account: { rateLimits: { confirm_email: "1/m/key" } } },
      "account.rateLimits.confirm_email",
      "unknown setting; did you mean account.rateLimits.confirmEmail? (settings are allauth's names in camelCase)",
    );
  });

  it("allauth's full setting name at the top level points to where it lives", async () => {
    await expectRefused(
      { ACCOUNT_LOGIN_METHODS: ["email"] },
      "ACCOUNT_LOGIN_METHODS",
      "unknown setting; did you mean account.loginMethods? (settings are allauth's names in camelCase)",
    );
    await expectRefused(
      { HEADLESS_FRONTEND_URLS: {} },
      "HEADLESS_FRONTEND_URLS",
      "unknown setting; did you mean frontendUrls? (settings are allauth's names in camelCase)",
    );
  });

  it("a key that resembles nothing lists the keys known there", async () => {
    const error = await refusal({ outbox: { retries: 3 } });
    expect(error.message).toBe("outbox.retries: unknown setting (known here: maxAttempts, leaseMs, pollIntervalMs, closeTimeoutMs)");
  });

  it("a typo in an adapter hook or a frontend URL name is refused too", async () => {
    await expectRefused(
      { adapter: { isOpenForSignUp: () => false } },
      "adapter.isOpenForSignUp",
      "unknown setting; did you mean adapter.isOpenForSignup?",
    );
    await expectRefused(
      { frontendUrls: { accountResetPasswordFromkey: "/r/{key}", accountConfirmEmail: "/v/{key}" } },
      "frontendUrls.accountResetPasswordFromkey",
      "unknown setting; did you mean frontendUrls.accountResetPasswordFromKey?",
    );
  });
});

describe("wrong types", () => {
  it("a string where an array of login methods is expected", async () => {
    await expectRefused({ account: { loginMethods: "email" } }, "account.loginMethods", 'expected an array of login methods, got "email"');
  });

  it("an unknown login method, by index", async () => {
    await expectRefused({ account: { loginMethods: ["email", "phone"] } }, "account.loginMethods[1]", 'expected "email" or "username", got "phone"');
  });

  it("a number where a rate string is expected", async () => {
    await expectRefused(
      { account: { rateLimits: { login: 30 } } },
      "account.rateLimits.login",
      'expected a rate like "10/m/ip" or "5/300s/key" (amount/[n]s|m|h|d[/ip|user|key], comma-separated), or false, got 30',
    );
  });

  it("something that is neither an object nor false for rateLimits", async () => {
    await expectRefused({ account: { rateLimits: "10/m/ip" } }, "account.rateLimits", 'expected an object or false, got "10/m/ip"');
  });

  it("a hook that is not a function, a mailer without send, a hasher by an unknown name", async () => {
    await expectRefused({ adapter: { isOpenForSignup: false } }, "adapter.isOpenForSignup", "expected a function, got false");
    await expectRefused(
      { mailer: { deliver: async () => undefined } },
      "mailer",
      'expected "console", an smtp:// URL or an object with send(mail, delivery), got an object',
    );
    await expectRefused(
      { passwordHasher: "bcrypt" },
      "passwordHasher",
      'expected "argon2id" or an object with hash(password) and verify(hash, password), got "bcrypt"',
    );
  });

  it("a database URL of an unsupported kind, and a missing or short secret", async () => {
    await expectRefused({ database: "mysql://db/auth" }, "database", 'expected "sqlite:<file>", "sqlite::memory:" or a "postgres://…" URL, got "mysql://db/auth"');
    // The password of a refused URL is never repeated (SECURITY.md LG-02).
    await expectRefused({ database: "mysql://app:hunter2-db-pass@db/auth" }, "database", 'expected "sqlite:<file>", "sqlite::memory:" or a "postgres://…" URL, got "mysql://app:***@db/auth"');
    await expectRefused({ mailer: "smtpx://mailer:hunter2-smtp@mx" }, "mailer", 'expected "console", an smtp:// URL or an object with send(mail, delivery), got "smtpx://mailer:***@mx"');
    await expectRefused({ secret: undefined }, "secret", "expected a string of at least 32 bytes, got undefined");
    expect(() => resolveConfig({} as AuthConfig)).toThrow(new ConfigError("secret", "required, missing"));
    await expectRefused({ secret: "too short" }, "secret", "expected a string of at least 32 bytes, got a string of 9 bytes");
  });

  it("the options themselves not an object", () => {
    expect(() => resolveConfig(null as unknown as AuthConfig)).toThrow(new ConfigError("", "expected an object, got null"));
  });
});

describe("out-of-range numbers", () => {
  it("a negative password length is refused (it let a one-character password sign up)", async () => {
    await expectRefused({ account: { passwordMinLength: -1 } }, "account.passwordMinLength", "expected a positive integer, got -1");
  });

  it("NaN, a fraction, and a negative count", async () => {
    await expectRefused({ account: { loginTimeout: Number.NaN } }, "account.loginTimeout", "expected a positive integer, got NaN");
    await expectRefused({ account: { loginByCodeMaxAttempts: 2.5 } }, "account.loginByCodeMaxAttempts", "expected a positive integer, got 2.5");
    await expectRefused({ trustedProxyCount: -1 }, "trustedProxyCount", "expected a non-negative integer, got -1");
    await expectRefused({ busyTimeoutMs: 0 }, "busyTimeoutMs", "expected a positive integer, got 0");
    await expectRefused({ sqliteGroupCommit: "yes" }, "sqliteGroupCommit", 'expected an object or true or false, got "yes"');
    await expectRefused({ sqliteGroupCommit: { maxMs: 0 } }, "sqliteGroupCommit.maxMs", "expected a positive integer, got 0");
    await expectRefused(
      { account: { emailVerificationSupportsResend: -2 } },
      "account.emailVerificationSupportsResend",
      "expected true, false or a non-negative integer, got -2",
    );
  });

  it("a minimum above its maximum", async () => {
    await expectRefused(
      { account: { passwordMinLength: 64, passwordMaxLength: 32 } },
      "account.passwordMinLength",
      "64 is above account.passwordMaxLength (32)",
    );
  });
});

describe("malformed rate-limit strings", () => {
  it("an unknown unit, a missing amount, an unknown scope, one bad part of several", async () => {
    const expected = 'expected a rate like "10/m/ip" or "5/300s/key" (amount/[n]s|m|h|d[/ip|user|key], comma-separated), or false, got';
    await expectRefused({ account: { rateLimits: { login: "10/x/ip" } } }, "account.rateLimits.login", `${expected} "10/x/ip"`);
    await expectRefused({ account: { rateLimits: { signup: "/m/ip" } } }, "account.rateLimits.signup", `${expected} "/m/ip"`);
    await expectRefused({ account: { rateLimits: { signup: "5/m/host" } } }, "account.rateLimits.signup", `${expected} "5/m/host"`);
    await expectRefused(
      { account: { rateLimits: { resetPassword: "20/m/ip,5/m/kee" } } },
      "account.rateLimits.resetPassword",
      `${expected} "20/m/ip,5/m/kee"`,
    );
  });
});

describe("frontend URL templates", () => {
  it("a template that must carry the key and lacks {key}", async () => {
    await expectRefused(
      { frontendUrls: { accountConfirmEmail: "/account/verify-email" } },
      "frontendUrls.accountConfirmEmail",
      'the template needs a {key} placeholder, got "/account/verify-email"',
    );
  });

  it("neither a path nor an absolute URL", async () => {
    await expectRefused(
      { frontendUrls: { accountSignup: "signup" } },
      "frontendUrls.accountSignup",
      'expected a path starting with "/" or an absolute http(s) URL, got "signup"',
    );
  });
});

describe("allowedHosts", () => {
  it("a host with a port, an empty list, a non-array", async () => {
    const host = 'expected a host name without port ("example.com", ".example.com" for it and its subdomains, "[::1]") or "*", got';
    await expectRefused({ allowedHosts: ["example.com:8000"] }, "allowedHosts[0]", `${host} "example.com:8000"`);
    await expectRefused({ allowedHosts: [] }, "allowedHosts", "expected an array of host names, not empty, got []");
    await expectRefused({ allowedHosts: "*" }, "allowedHosts", 'expected an array of host names, got "*"');
  });
});

describe("allauth's start-up checks", () => {
  it("changeEmail with maxEmailAddresses other than 2", async () => {
    await expectRefused(
      { account: { changeEmail: true, maxEmailAddresses: 3 } },
      "account.maxEmailAddresses",
      "account.changeEmail needs null or 2 (the old address and the new), got 3",
    );
  });

  it("maxEmailAddresses 0", async () => {
    await expectRefused({ account: { maxEmailAddresses: 0 } }, "account.maxEmailAddresses", "expected a positive integer or null, got 0");
  });

  it("verification by code without mandatory verification", async () => {
    await expectRefused(
      { account: { emailVerificationByCodeEnabled: true } },
      "account.emailVerificationByCodeEnabled",
      'verification by code needs account.emailVerification "mandatory"',
    );
  });

  it('"password" in signupFields', async () => {
    await expectRefused(
      { account: { signupFields: ["email*", "username*", "password*"] } },
      "account.signupFields[2]",
      '"password*" is not a signup field; use "password1*"',
    );
  });

  it("mandatory verification without a required email field", async () => {
    await expectRefused(
      { account: { emailVerification: "mandatory", signupFields: ["email", "username*", "password1*"] } },
      "account.signupFields",
      'mandatory email verification needs "email*" in the signup fields',
    );
  });

  it("login by email without unique emails", async () => {
    await expectRefused(
      { account: { loginMethods: ["email"], uniqueEmail: false } },
      "account.uniqueEmail",
      "login by email needs unique email addresses (true)",
    );
  });

  it("login by username without a username signup field", async () => {
    await expectRefused(
      { account: { loginMethods: ["username"], signupFields: ["email*", "password1*"] } },
      "account.signupFields",
      'login by username needs "username" in the signup fields',
    );
  });
});

describe("what a valid config may hold", () => {
  it("every HEADLESS_FRONTEND_URLS key, user functions and objects with more members, allauth's setting names", () => {
    class Mailer {
      readonly sent: Array<unknown> = [];
      async send(mail: unknown) {
        this.sent.push(mail);
      }
    }
    const config = resolveConfig({
      secret: testSecret,
      database: "sqlite::memory:",
      mailer: new Mailer(),
      passwordHasher: { hash: async (p) => p, verify: async (h, p) => h === p },
      frontendUrls: {
        accountConfirmEmail: "https://app.example.com/verify?key={key}",
        accountResetPassword: "/account/password/reset",
        accountResetPasswordFromKey: "/account/password/reset/key/{key}",
        accountSignup: "https://app.example.com/account/signup",
        socialaccountLoginError: "/account/provider/callback",
      },
      adapter: { isOpenForSignup: () => true, isNewUserActive: () => true },
      allowedHosts: [".example.com", "localhost", "[::1]"],
      trustedProxyCount: 1,
      account: {
        loginMethods: ["email", "username"],
        signupFields: ["email*", "email2*", "username*", "password1*", "password2*"],
        emailVerification: "mandatory",
        emailVerificationByCodeEnabled: true,
        emailVerificationSupportsResend: 3,
        preventEnumeration: "strict",
        changeEmail: true,
        maxEmailAddresses: 2,
        emailVerificationSupportsChange: true,
        loginByCodeEnabled: true,
        loginByCodeRequired: ["password"],
        rateLimits: { login: "5/m/ip", loginFailed: false, resetPassword: "20/m/ip,5/300s/key" },
        defaultHttpProtocol: "https",
      },
      outbox: { pollIntervalMs: false },
      usersessions: { trackActivity: true },
    });
    expect(config.frontendUrls.socialaccountLoginError).toBe("/account/provider/callback");
    expect(config.allowedHosts).toEqual([".example.com", "localhost", "[::1]"]);
    expect(config.account.rateLimits["login"]).toEqual([{ amount: 5, periodInSeconds: 60, scope: "ip" }]);
    expect(config.account.rateLimits["loginFailed"]).toBeUndefined();
    expect(config.account.defaultHttpProtocol).toBe("https");
    expect(config.mailer).toBeInstanceOf(Mailer);
    expect(config.usersessions).toEqual({ trackActivity: true });
  });

  it("the defaults: local hosts only, relative frontend URLs", () => {
    const config = resolveConfig({ secret: testSecret });
    expect(config.allowedHosts).toEqual(["localhost", "127.0.0.1", "[::1]"]);
    expect(config.frontendUrls).toEqual({
      accountConfirmEmail: "/account/verify-email/{key}",
      accountResetPassword: "/account/password/reset",
      accountResetPasswordFromKey: "/account/password/reset/key/{key}",
      accountSignup: "/account/signup",
      socialaccountLoginError: "/",
    });
    expect(existsSync(join(dir, "auth.db"))).toBe(false);
  });
});

describe("basePath", () => {
  it.each(["api/auth", "/api/auth/", "/", "/api//auth", "/api/../auth", "/api auth"])("refuses %j", async (basePath) => {
    await expectRefused(
      { basePath },
      "basePath",
      `expected a path of one or more segments, starting with "/" and without a trailing one (e.g. "/_allauth", "/api/auth"), got ${JSON.stringify(basePath)}`,
    );
  });
});
