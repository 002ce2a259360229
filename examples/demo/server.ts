/**
 * The demo: the allauth headless API on a SQLite file with mail printed to the console, and a
 * one-page frontend that signs up, verifies, logs in and out through it.
 *
 *   npm start                      # http://127.0.0.1:3000
 *   PORT=4000 DATABASE=sqlite:demo.db npm start
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createAuth, toNodeListener } from "authmachines";

const port = Number(process.env["PORT"] ?? 3000);
const origin = `http://127.0.0.1:${port}`;

const auth = await createAuth({
  secret: process.env["AUTH_SECRET"] ?? "demo-secret-change-me-demo-secret-change-me",
  database: process.env["DATABASE"] ?? "sqlite:auth.db",
  mailer: process.env["SMTP_URL"] ?? "console",
  frontendUrls: { accountConfirmEmail: `${origin}/?verify={key}` },
  account: { loginMethods: ["email"], emailVerification: "mandatory", loginOnEmailConfirmation: true },
});

auth.signals.on("user_signed_up", ({ user, request }) => {
  console.log(`[signal] user_signed_up ${user.email} from ${request.ip}`);
});
auth.signals.on("user_logged_in", ({ user }) => console.log(`[signal] user_logged_in ${user.email}`));
auth.signals.on("email_confirmed", ({ emailAddress }) => console.log(`[signal] email_confirmed ${emailAddress.email}`));
auth.signals.on("user_logged_out", ({ user }) => console.log(`[signal] user_logged_out ${user?.email ?? "(anonymous)"}`));

const page = readFileSync(new URL("./index.html", import.meta.url));
const api = toNodeListener(auth.handler);

const server = createServer((req, res) => {
  if (req.url?.startsWith("/_allauth/")) {
    void api(req, res);
    return;
  }
  res.setHeader("content-type", "text/html; charset=utf-8");
  res.setHeader("referrer-policy", "no-referrer");
  res.end(page);
});

server.listen(port, "127.0.0.1", () => {
  console.log(`authmachines demo on ${origin} (database ${auth.config.database}, mail to console)`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    server.close();
    void auth.close().then(() => process.exit(0));
  });
}
