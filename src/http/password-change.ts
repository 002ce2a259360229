/**
 * `POST account/password/change`: runs `password-set` for a user without a usable password,
 * `password-change` otherwise. As allauth's view: 401 for nobody, then the `change_password`
 * rate limit, then the body; the flow's actor reports every field error at once
 * (`current_password` required or `enter_current_password`, then `new_password`).
 */
import { passwordChangeMachine } from "../../machines/password-change.ts";
import { passwordSetMachine } from "../../machines/password-set.ts";
import { Secret } from "../../machines/secret.ts";
import { passwordChangeActors } from "../actors/password-change.ts";
import { passwordSetActors } from "../actors/password-set.ts";
import { flowSettings } from "../config.ts";
import { withActors } from "../runtime/bound-machine.ts";
import { runMachine } from "../runtime/run-machine.ts";
import type { Exchange } from "./exchange.ts";
import { readFields } from "./input.ts";
import { edgeHits, spent } from "./rate-limit.ts";

export async function postPasswordChange(exchange: Exchange): Promise<Response> {
  const { config, runtime } = exchange.deps;
  const session = await exchange.loadSession();
  if (session.user === null) {
    return exchange.respond({ kind: "session" }, session);
  }
  const setting = !session.user.hasUsablePassword;
  // Owed to the step: the current password's check takes it with its attempt; setting one (no
  // check) takes it in the step's transaction, after asking before its hash.
  const hits = edgeHits(config, "changePassword", { ip: exchange.info.ip, user: session.user.id });
  if (setting && (await spent(runtime, hits))) {
    return exchange.respond({ kind: "status", status: 429 }, session);
  }
  const input = await readFields<"current_password" | "new_password">(exchange.request, {
    current_password: { required: false, maxLength: config.account.passwordMaxLength, type: "password" },
    new_password: { required: false, maxLength: config.account.passwordMaxLength, type: "password" },
  });
  if (!input.ok) {
    return exchange.respondCounted(hits, { kind: "errors", errors: input.errors }, session);
  }
  const current = input.value.current_password;
  const next = input.value.new_password;
  return exchange.step(async (step) => {
    const common = {
      input: {
        settings: flowSettings(config),
        sessionUser: step.session.user,
        logoutOnPasswordChange: config.account.logoutOnPasswordChange,
      },
      event: {
        type: "SUBMIT" as const,
        currentPassword: current === null ? null : new Secret(current),
        newPassword: next === null ? null : new Secret(next),
      },
    };
    const { snapshot } = setting
      ? await runMachine(step, withActors(passwordSetMachine, passwordSetActors(step, config)), common)
      : await runMachine(step, withActors(passwordChangeMachine, passwordChangeActors(step, config)), common);
    if (snapshot.hasTag("failed")) {
      throw new Error("password change failed");
    }
    if (snapshot.hasTag("rejected")) {
      return { kind: "errors", errors: [snapshot.context.error ?? { code: "unexpected" }] };
    }
    if (snapshot.hasTag("conflict")) {
      return { kind: "status", status: 409 };
    }
    return { kind: "session" };
  }, hits);
}
