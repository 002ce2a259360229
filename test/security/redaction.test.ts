/**
 * Secrets are shown redacted (SECURITY.md LG-02): `auth.config` printed with `util.inspect` or
 * `console.log`, serialised with `JSON.stringify`, or turned into a string shows neither the
 * secret, nor a provider's client secret, nor the password of the database or SMTP URL; the
 * values themselves stay usable. A password in a flow event is a `Secret`, printed as a marker.
 * A configuration error does not repeat the secret it refuses.
 */
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { Secret } from "../../machines/secret.ts";
import { ConfigError, createAuth } from "../../src/index.ts";
import { harness, testSecret } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const clientSecret = "github-client-secret-0123456789";
const smtpPassword = "smtp-password-9876";

describe("redacted secrets (LG-02)", () => {
  it("auth.config shows no secret when printed, serialised or stringified, and keeps the values", async () => {
    h = await harness({
      mailer: `smtp://mailer:${smtpPassword}@127.0.0.1:2525`,
      outbox: { pollIntervalMs: false },
      socialaccount: { providers: [{ type: "github", clientId: "gh-client", secret: clientSecret }] },
    });
    const config = h.auth.config;
    const databasePassword = decodeURIComponent(new URL(config.database.replace(/^sqlite:/, "sqlite://x/")).password);
    const secrets = [testSecret, clientSecret, smtpPassword, ...(databasePassword === "" ? [] : [databasePassword])];
    const shown = [inspect(config, { depth: 10 }), inspect(h.auth, { depth: 4 }), JSON.stringify(config), String(config), `${JSON.stringify({ config })}`];
    for (const text of shown) {
      for (const secret of secrets) {
        expect(text).not.toContain(secret);
      }
    }
    expect(inspect(config, { depth: 10 })).toContain("secret: '<redacted>'");
    expect(JSON.parse(JSON.stringify(config)).mailer).toBe("smtp://mailer:<redacted>@127.0.0.1:2525");
    expect(JSON.parse(JSON.stringify(config)).socialaccount.providers[0].secret).toBe("<redacted>");
    expect([config.secret, config.mailer, config.socialaccount.providers[0]!.secret]).toEqual([testSecret, `smtp://mailer:${smtpPassword}@127.0.0.1:2525`, clientSecret]);
  });

  it("a password in a flow event prints as a marker", () => {
    const password = new Secret("correct horse battery staple 42");
    for (const text of [String(password), JSON.stringify({ password }), inspect({ password })]) {
      expect(text).not.toContain("correct horse");
      expect(text).toContain("<redacted>");
    }
  });

  it("a refused secret is not repeated by the ConfigError", async () => {
    const short = "too-short-secret-abc";
    const error = await createAuth({ secret: short, database: "sqlite::memory:" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(`${String(error)} ${inspect(error)} ${JSON.stringify(error)}`).not.toContain(short);
  });
});
