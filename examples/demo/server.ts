/**
 * The demo: the allauth headless API on a SQLite file with mail printed to the console, and a
 * one-page frontend that signs up, verifies, logs in and out, and resets a password through it.
 * The links in the mails open its pages. Outside production it also logs in through the `dummy`
 * provider ("Continue with Dummy").
 *
 *   npm start                      # http://127.0.0.1:3000
 *   PORT=4000 DATABASE=sqlite:demo.db npm start
 */
import { startDemo } from "./app.ts";

const demo = await startDemo({
  port: Number(process.env["PORT"] ?? 3000),
  secret: process.env["AUTH_SECRET"] ?? "demo-secret-change-me-demo-secret-change-me",
  database: process.env["DATABASE"] ?? "sqlite:auth.db",
  mailer: process.env["SMTP_URL"] ?? "console",
});
const { auth } = demo;

auth.signals.on("user_signed_up", ({ user, request }) => {
  console.log(`[signal] user_signed_up ${user.email} from ${request.ip}`);
});
auth.signals.on("user_logged_in", ({ user }) => console.log(`[signal] user_logged_in ${user.email}`));
auth.signals.on("email_confirmed", ({ emailAddress }) => console.log(`[signal] email_confirmed ${emailAddress.email}`));
auth.signals.on("password_reset", ({ user }) => console.log(`[signal] password_reset ${user.email}`));
auth.signals.on("user_logged_out", ({ user }) => console.log(`[signal] user_logged_out ${user?.email ?? "(anonymous)"}`));

console.log(`authmachines demo on ${demo.origin} (database ${auth.config.database}, mail to ${process.env["SMTP_URL"] ?? "console"})`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => void demo.close().then(() => process.exit(0)));
}
