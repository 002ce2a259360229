/**
 * The Next.js app's one auth instance (server only), imported by its route handlers.
 *
 * The client IP: a route handler gets no socket, only the request. On Vercel the platform sets
 * `X-Forwarded-For` to the client's address, so `trustedProxyCount: 1` takes it from there.
 * Self-hosted, put a proxy in front that sets or appends that header: `next start` only fills it
 * in when the client sent none, so facing the network directly a client could pick its own.
 */
import { createAuth } from "authmachines";
import type { Auth } from "authmachines";

const secret = process.env["AUTH_SECRET"];
if (secret === undefined) {
  throw new Error("AUTH_SECRET is not set (at least 32 bytes)");
}

// `next dev` evaluates modules again on every change: keep one instance (one database pool).
const cache = globalThis as typeof globalThis & { authmachines?: Promise<Auth> };

export const auth: Auth = await (cache.authmachines ??= createAuth({
  secret,
  database: process.env["DATABASE_URL"] ?? "sqlite:auth.db",
  mailer: process.env["SMTP_URL"] ?? "console",
  allowedHosts: (process.env["ALLOWED_HOSTS"] ?? "localhost").split(","),
  trustedProxyCount: 1,
}));
