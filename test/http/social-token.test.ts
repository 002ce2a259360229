/**
 * `auth/provider/token` for the app client, and the provider signup form: a genuine ID token
 * from the real provider signs up and logs in; a clashing address waits for the form.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IdentityProvider } from "../support/oidc-provider.ts";
import { clientId, socialHarness, startProvider } from "../support/social.ts";
import { take } from "./support.ts";

let idp: IdentityProvider;
beforeAll(async () => {
  idp = await startProvider();
});
afterAll(async () => {
  await idp.close();
});

describe("POST auth/provider/token", () => {
  it("an ID token signs up and logs in: pre_social_login → user_signed_up → user_logged_in, with a session token", async () => {
    const h = await socialHarness(idp);
    const app = h.app();
    const idToken = await idp.idTokenFor("alice", { clientId });
    const res = await app.request("POST", "auth/provider/token", { provider: "devidp", process: "login", token: { client_id: clientId, id_token: idToken } });
    expect(res.status).toBe(200);
    expect(res.body.meta.is_authenticated).toBe(true);
    expect(typeof res.body.meta.session_token).toBe("string");
    expect(take(h).names).toEqual(["pre_social_login", "user_signed_up", "user_logged_in"]);
    await h.close();
  });

  it("without autoSignup the login waits for the provider signup form, which completes it", async () => {
    const h = await socialHarness(idp, {}, { autoSignup: false });
    const app = h.app();
    const idToken = await idp.idTokenFor("carol", { clientId });
    const res = await app.request("POST", "auth/provider/token", { provider: "devidp", process: "login", token: { client_id: clientId, id_token: idToken } });
    expect(res.status).toBe(401);
    expect(res.body.data.flows).toContainEqual(expect.objectContaining({ id: "provider_signup", is_pending: true }));
    expect(take(h).names).toEqual(["pre_social_login"]);
    const form = await app.request("GET", "auth/provider/signup");
    expect(form.status).toBe(200);
    expect(form.body.data.email).toEqual([{ email: "carol@example.com", primary: true, verified: true }]);
    const done = await app.request("POST", "auth/provider/signup", { email: "carol@example.com", username: "carol" });
    expect(done.status).toBe(200);
    expect(take(h).names).toEqual(["user_signed_up", "user_logged_in"]);
    expect((await app.request("GET", "auth/provider/signup")).status).toBe(409);
    await h.close();
  });

  it("a tampered token is invalid_token and writes nothing", async () => {
    const h = await socialHarness(idp);
    const idToken = await idp.idTokenFor("alice", { clientId });
    const res = await h.app().request("POST", "auth/provider/token", {
      provider: "devidp",
      process: "login",
      token: { client_id: clientId, id_token: `${idToken.slice(0, -4)}AAAA` },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ param: "token", code: "invalid_token", message: "Invalid token." }]);
    expect(take(h).names).toEqual([]);
    expect(await h.count("auth_user")).toBe(0);
    await h.close();
  });
});

describe("an app ID token with a jti (allauth's verify_jti)", () => {
  it("is accepted once; its second use before it expires is invalid_token", async () => {
    const h = await socialHarness(idp);
    const now = Math.floor(Date.now() / 1000);
    const idToken = await idp.sign({ iss: idp.issuer, aud: clientId, sub: "jti-person", iat: now, exp: now + 600, jti: "one-time-1", email: "jti@example.com", email_verified: true });
    const body = { provider: "devidp", process: "login", token: { client_id: clientId, id_token: idToken } };
    expect((await h.app().request("POST", "auth/provider/token", body)).status).toBe(200);
    take(h);
    const replay = await h.app().request("POST", "auth/provider/token", body);
    expect(replay.status).toBe(400);
    expect(replay.body.errors).toEqual([{ param: "token", code: "invalid_token", message: "Invalid token." }]);
    expect(take(h).names).toEqual([]);
    await h.close();
  });
});
