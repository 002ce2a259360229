import { describe, expect, it } from "vitest";
import { cleanupEmailAddresses, displayOf, oauthProfile, oidcProfile } from "../../src/social/profile.ts";
import { ProviderError } from "../../src/social/errors.ts";
import type { ProviderConfig } from "../../src/social/types.ts";
import { oidcProvider } from "./fixtures.ts";

const oidc = oidcProvider("https://idp.example");
const preset = (type: ProviderConfig["type"], overrides: Partial<ProviderConfig> = {}): ProviderConfig => ({
  ...oidc,
  id: type,
  type,
  name: type,
  serverUrl: null,
  endpoints: { issuer: "https://x.example", authorizationEndpoint: "https://x.example/a", tokenEndpoint: "https://x.example/t", userinfoEndpoint: "https://x.example/u" },
  ...overrides,
});

describe("OIDC claims to a profile", () => {
  it("prefers userinfo over the ID token and reads the uid from uidField", () => {
    const profile = oidcProfile(oidc, { userinfo: { sub: "u1", email: "a@x.example", email_verified: true, name: "Ann Lee Smith" }, id_token: { sub: "u1", email: "old@x.example" } }, null);
    expect(profile).toMatchObject({ uid: "u1", firstName: "Ann", lastName: "Lee Smith", username: null });
    expect(profile.emailAddresses).toEqual([{ email: "a@x.example", verified: true, primary: true }]);
    expect(oidcProfile({ ...oidc, uidField: "oid" }, { oid: 99, sub: "s" }, null).uid).toBe("99");
  });

  it("refuses a missing, empty or over-long uid", () => {
    for (const sub of [undefined, "", "x".repeat(192), { nested: true }]) {
      expect(() => oidcProfile(oidc, { sub }, null)).toThrow(ProviderError);
    }
    expect(oidcProfile(oidc, { sub: "x".repeat(191) }, null).uid).toHaveLength(191);
  });
});

describe("cleanup of email addresses", () => {
  it("drops invalid addresses, puts the common one first, sorts primary then verified then address descending", () => {
    const listed = [
      { email: "b@x.example", verified: true, primary: false },
      { email: "not valid", verified: true, primary: true },
      { email: "c@x.example", verified: false, primary: false },
      { email: "a@x.example", verified: true, primary: false },
    ];
    expect(cleanupEmailAddresses(oidc, "Main@X.example", false, listed)).toEqual([
      { email: "main@x.example", verified: false, primary: true },
      { email: "b@x.example", verified: true, primary: false },
      { email: "a@x.example", verified: true, primary: false },
      { email: "c@x.example", verified: false, primary: false },
    ]);
  });

  it("marks addresses verified by configuration: everything, or a domain list", () => {
    const list = [
      { email: "a@trusted.example", verified: false, primary: true },
      { email: "b@other.example", verified: false, primary: false },
    ];
    expect(cleanupEmailAddresses({ ...oidc, verifiedEmail: ["TRUSTED.example"] }, null, false, list).map((a) => a.verified)).toEqual([true, false]);
    expect(cleanupEmailAddresses({ ...oidc, verifiedEmail: true }, null, false, list).map((a) => a.verified)).toEqual([true, true]);
    expect(cleanupEmailAddresses(oidc, null, false, list).map((a) => a.verified)).toEqual([false, false]);
  });
});

describe("plain OAuth 2 presets", () => {
  it("GitHub: uid from the numeric id, login as username, addresses from the emails endpoint", () => {
    const profile = oauthProfile(preset("github"), { id: 583231, login: "octocat", name: "The Octocat", email: null }, [
      { email: "octo@github.example", primary: true, verified: true },
      { email: "old@github.example", primary: false, verified: false },
    ], null);
    expect(profile).toMatchObject({ provider: "github", uid: "583231", username: "octocat", firstName: "The", lastName: "Octocat" });
    expect(profile.emailAddresses.map((a) => [a.email, a.verified, a.primary])).toEqual([
      ["octo@github.example", true, true],
      ["old@github.example", false, false],
    ]);
  });

  it("Discord: the address only when Discord says it is verified; GitLab: the address unverified", () => {
    expect(oauthProfile(preset("discord"), { id: "80351110224678912", username: "nelly", email: "n@d.example", verified: true }, null, null).emailAddresses).toEqual([{ email: "n@d.example", verified: true, primary: true }]);
    expect(oauthProfile(preset("discord"), { id: "1", username: "nelly", email: "n@d.example", verified: false }, null, null).emailAddresses).toEqual([{ email: "n@d.example", verified: false, primary: true }]);
    const gitlab = oauthProfile(preset("gitlab"), { id: 1, username: "gl", name: "Git Lab", email: "g@l.example" }, null, null);
    expect(gitlab).toMatchObject({ uid: "1", username: "gl", emailAddresses: [{ email: "g@l.example", verified: false, primary: true }] });
  });
});

describe("display", () => {
  it("takes username, then email, then name, then full name, then first and last, then the provider name", () => {
    expect(displayOf({ email: "e@x.example", login: "lg", name: "N" }, "P")).toBe("lg");
    expect(displayOf({ email: " e@x.example ", name: "N" }, "P")).toBe("e@x.example");
    expect(displayOf({ nickname: "nick", full_name: "Full" }, "P")).toBe("nick");
    expect(displayOf({ fullName: "Full Name" }, "P")).toBe("Full Name");
    expect(displayOf({ given_name: "Ann", surname: "Lee" }, "P")).toBe("Ann Lee");
    expect(displayOf({ username: "  ", id: 5 }, "Dummy")).toBe("Dummy");
    expect(displayOf(null, "Dummy")).toBe("Dummy");
  });

  it("reads OIDC extra data from userinfo, else the ID token", () => {
    expect(displayOf({ userinfo: { preferred_username: "x", email: "u@x.example" }, id_token: { username: "t" } }, "P")).toBe("u@x.example");
    expect(displayOf({ id_token: { sub: "s", name: "Tok En" } }, "P")).toBe("Tok En");
  });
});
