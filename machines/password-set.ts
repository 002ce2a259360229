/**
 * Password set (allauth `PasswordSetView`, headless `POST account/password/change` without a
 * current password): only for users without a usable password; emits `password_set` last.
 * See `password-flow.ts`.
 */
import { passwordFlowMachine } from "./password-flow.ts";

export const passwordSetMachine = passwordFlowMachine("password-set");
