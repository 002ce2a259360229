/**
 * Password change (allauth `PasswordChangeView`, headless `POST account/password/change` with a
 * current password): `password_changed` last; with `logoutOnPasswordChange`,
 * `user_logged_out → password_changed`. See `password-flow.ts`.
 */
import { passwordFlowMachine } from "./password-flow.ts";

export const passwordChangeMachine = passwordFlowMachine("password-change");
