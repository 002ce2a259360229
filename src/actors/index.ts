export { emailVerificationActors } from "./email-verification.ts";
export { verificationPurposes } from "./login-pipeline.ts";
export { loginActors } from "./login.ts";
export { logoutActors } from "./logout.ts";
export { signupActors } from "./signup.ts";
