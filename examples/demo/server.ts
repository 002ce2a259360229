/**
 * The demo (`npm start`): the allauth headless API on a SQLite file, a Dev IdP and the dummy
 * provider for social login, a mailbox page showing every mail, and a page for every flow.
 *
 *   npm start                                   # http://127.0.0.1:3000
 *   PORT=4000 DATABASE=sqlite:demo.db npm start
 *   DEMO_MODE=code npm start                    # verification and password reset by code
 */
import { startDemo } from "./app.ts";

const demo = await startDemo({
  port: Number(process.env["PORT"] ?? 3000),
  secret: process.env["AUTH_SECRET"] ?? "demo-secret-change-me-demo-secret-change-me",
  database: process.env["DATABASE"] ?? "sqlite:auth.db",
  mode: process.env["DEMO_MODE"] === "code" ? "code" : "link",
});

demo.auth.signals.on("user_signed_up", ({ user }) => console.log(`[signal] user_signed_up ${user.email}`));
demo.auth.signals.on("user_logged_in", ({ user }) => console.log(`[signal] user_logged_in ${user.email}`));
demo.auth.signals.on("user_logged_out", ({ user }) => console.log(`[signal] user_logged_out ${user?.email ?? "(anonymous)"}`));

console.log(`authmachines demo (${demo.mode} mode, database ${demo.auth.config.database})`);
console.log(`  Open ${demo.origin}/   ·   mailbox ${demo.origin}/mailbox   ·   flows ${demo.origin}/flows   ·   Dev IdP ${demo.idp.issuer}`);
console.log("  Development only: mails are printed here and kept at /mailbox, links and codes included.");

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => void demo.close().then(() => process.exit(0)));
}
