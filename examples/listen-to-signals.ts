/**
 * Subscribing to signals as a Django receiver would. `on` receivers run inside the step and can
 * veto it by throwing; `after` receivers run once the step has committed.
 */
import { createAuth } from "authmachines";

export async function main(): Promise<void> {
  const auth = await createAuth({
    secret: "an-example-secret-of-at-least-32-bytes!",
    database: "sqlite::memory:",
    mailer: "console",
    outbox: { pollIntervalMs: false },
    account: { loginMethods: ["email"], emailVerification: "mandatory" },
  });

  auth.signals.on("user_signed_up", ({ user, request }) => {
    // The request is still anonymous here, as in allauth.
    console.log(`welcome ${user.email} (signed up from ${request.ip}, logged in: ${request.user !== null})`);
  });
  auth.signals.on("email_confirmation_sent", ({ confirmation, signup }) => {
    console.log(`verification mailed to ${confirmation.emailAddress.email} (signup: ${signup})`);
  });
  auth.signals.after("user_signed_up", async ({ user, idempotencyKey }) => {
    console.log(`after commit: add ${user.id} to the CRM (delivery ${idempotencyKey})`);
  });

  const response = await auth.handler(
    new Request("http://localhost/_allauth/app/v1/auth/signup", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "ada@example.com", password: "a long enough passphrase" }),
    }),
    { ip: "127.0.0.1" },
  );
  console.log(response.status); // 401: verification pending
  await auth.close();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main();
}
