/**
 * The machines are plain XState: run one with your own actors and subscribe to the very events
 * `auth.signals` is fed from (`actor.on`).
 */
import { createActor, fromPromise, waitFor } from "xstate";
import { Secret, signupMachine } from "authmachines/machines";
import type {
  AuthSignal,
  CreateUserOutput,
  EmailAddressRef,
  SendVerificationEmailOutput,
  UserRef,
} from "authmachines/machines";

export async function main(): Promise<ReadonlyArray<AuthSignal["type"]>> {
  const user: UserRef = { id: "u1", username: null, email: "ada@example.com", isActive: true, hasUsablePassword: true };
  const emailAddress: EmailAddressRef = { id: "e1", userId: "u1", email: "ada@example.com", verified: false, primary: true };
  const machine = signupMachine.provide({
    actors: {
      validateSignup: fromPromise(async ({ input }) => ({ email: input.email, username: null, emailTaken: false })),
      createUser: fromPromise(async (): Promise<CreateUserOutput> => ({ user, emailAddress })),
      sendAccountExistsMail: fromPromise(async (): Promise<void> => {}),
      sendVerificationEmail: fromPromise(async (): Promise<SendVerificationEmailOutput> => ({ sent: false, confirmation: null, verificationId: null })),
      startSession: fromPromise(async () => ({ user })),
    },
  });
  const actor = createActor(machine, {
    input: {
      settings: {
        emailVerification: "none",
        emailVerificationByCodeEnabled: false,
        loginOnEmailConfirmation: false,
        preventEnumeration: true,
        changeEmail: false,
        loginMethods: ["email"],
      },
      sessionUser: null,
    },
  });
  const seen: Array<AuthSignal["type"]> = [];
  actor.on("user_signed_up", (signal) => console.log(`signed up: ${signal.user.email}`));
  actor.on("*", (signal) => seen.push(signal.type));
  actor.start();
  actor.send({ type: "SUBMIT", email: "ada@example.com", username: null, password: new Secret("a long passphrase") });
  await waitFor(actor, (snapshot) => snapshot.status === "done");
  return seen; // ["user_signed_up", "user_logged_in"]
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await main());
}
