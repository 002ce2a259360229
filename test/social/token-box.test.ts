/**
 * The token box seals secrets at rest: only the same auth secret opens them, any change to a
 * sealed value is caught, and a renewal without a refresh token keeps the previous one.
 */
import { describe, expect, it } from "vitest";
import { mergeTokens, openSecret, openTokens, sealSecret, sealTokens } from "../../src/social/token-box.ts";
import { testSecret } from "../support/harness.ts";

const other = "another-secret-another-secret-0123456789";

describe("token box", () => {
  it("round-trips a secret, with a fresh IV each time", () => {
    const a = sealSecret(testSecret, "pkce-verifier-ü");
    const b = sealSecret(testSecret, "pkce-verifier-ü");
    expect(a).not.toBe(b);
    expect(a.startsWith("v1.")).toBe(true);
    expect(openSecret(testSecret, a)).toBe("pkce-verifier-ü");
    expect(openSecret(testSecret, b)).toBe("pkce-verifier-ü");
  });

  it("never shows the plaintext in the sealed value", () => {
    const plain = "access-token-0123456789";
    const sealed = sealTokens(testSecret, { accessToken: plain, refreshToken: "refresh-abcdef", expiresAt: 1 });
    for (const needle of [plain, "refresh-abcdef", Buffer.from(plain).toString("base64url"), Buffer.from(plain).toString("base64")]) {
      expect(sealed).not.toContain(needle);
    }
  });

  it("answers null for a tampered, truncated or foreign value", () => {
    const sealed = sealSecret(testSecret, "secret value");
    const [v, iv, body, tag] = sealed.split(".");
    const flip = (part: string) => {
      const bytes = Buffer.from(part, "base64url");
      bytes[0] = bytes[0]! ^ 1;
      return bytes.toString("base64url");
    };
    expect(openSecret(testSecret, [v, iv, flip(body!), tag].join("."))).toBeNull();
    expect(openSecret(testSecret, [v, flip(iv!), body, tag].join("."))).toBeNull();
    expect(openSecret(testSecret, [v, iv, body, flip(tag!)].join("."))).toBeNull();
    expect(openSecret(testSecret, [v, iv, body].join("."))).toBeNull();
    expect(openSecret(testSecret, ["v2", iv, body, tag].join("."))).toBeNull();
    expect(openSecret(testSecret, "")).toBeNull();
    expect(openSecret(testSecret, "plain text")).toBeNull();
  });

  it("answers null under another secret", () => {
    expect(openSecret(other, sealSecret(testSecret, "secret value"))).toBeNull();
    expect(openTokens(other, sealTokens(testSecret, { accessToken: "a", refreshToken: null, expiresAt: null }))).toBeNull();
  });

  it("round-trips tokens, and refuses a sealed value that is not tokens", () => {
    const tokens = { accessToken: "at", refreshToken: "rt", expiresAt: 1_700_000_000_000 };
    expect(openTokens(testSecret, sealTokens(testSecret, tokens))).toEqual(tokens);
    const bare = { accessToken: "at", refreshToken: null, expiresAt: null };
    expect(openTokens(testSecret, sealTokens(testSecret, bare))).toEqual(bare);
    expect(openTokens(testSecret, sealSecret(testSecret, '{"x":1}'))).toBeNull();
    expect(openTokens(testSecret, sealSecret(testSecret, "not json"))).toBeNull();
  });

  it("keeps the previous refresh token when a renewal brings none, and takes a new one when given", () => {
    const previous = { accessToken: "old", refreshToken: "refresh-1", expiresAt: 1 };
    expect(mergeTokens(previous, { accessToken: "new", refreshToken: null, expiresAt: 2 })).toEqual({
      accessToken: "new",
      refreshToken: "refresh-1",
      expiresAt: 2,
    });
    expect(mergeTokens(previous, { accessToken: "new", refreshToken: "", expiresAt: 2 }).refreshToken).toBe("refresh-1");
    expect(mergeTokens(previous, { accessToken: "new", refreshToken: "refresh-2", expiresAt: 2 }).refreshToken).toBe("refresh-2");
    expect(mergeTokens(null, { accessToken: "new", refreshToken: null, expiresAt: null }).refreshToken).toBeNull();
  });
});
