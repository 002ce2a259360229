/**
 * The demo's pages for getting in and out: home, signup, login (password, code), email
 * verification (link, code), password reset (link, code), logout, the provider callback and
 * provider signup, and the mailbox's copy buttons.
 */
import { $, call, flowPages, go, loggedInAs, onSubmit, path, pendingFlow, problemOf, query, say, user, who } from "./ui.js";

/** The page functions, by name; each gets the API's `GET config` answer. */
export const authPages = {
  home() {
    const u = user();
    $("#home-state").textContent = u ? `You are logged in as ${who(u)}.` : "You are not logged in.";
    $(u ? "#home-user" : "#home-anonymous").hidden = false;
  },

  signup() {
    onSubmit($("#signup"), (f) => call("POST", "auth/signup", f), (json) => {
      if (json.status === 200) return go("/", `Welcome! ${loggedInAs(json)}`), true;
      if (json.status === 401 && pendingFlow(json) === "verify_email") {
        return go("/verify-email", `Thanks for signing up. Check your inbox to verify ${$("#signup-email").value}.`), true;
      }
      return false;
    });
  },

  login() {
    if (user()) return say(`You are already logged in as ${who(user())}.`);
    onSubmit($("#login"), (f) => call("POST", "auth/login", f), (json) => {
      if (json.status === 200) return go("/", loggedInAs(json)), true;
      if (json.status === 401 && pendingFlow(json) === "verify_email") {
        return go("/verify-email", "Your email address is not verified yet. Check your inbox to verify it."), true;
      }
      return false;
    });
  },

  loginCode() {
    const request = $("#code-request");
    const confirm = $("#code-confirm");
    const toCode = (email) => {
      request.hidden = true;
      confirm.hidden = false;
      if (email) $("#code-confirm-hint").textContent = `If ${email} has an account, we mailed a login code to it. Enter the code (it looks like ABCD-EFGH).`;
      $("#code-confirm-code").focus();
    };
    if (pendingFlow() === "login_by_code") toCode();
    onSubmit(request, (f) => call("POST", "auth/code/request", f), (json) => {
      if (json.status === 401 && pendingFlow(json) === "login_by_code") {
        const email = $("#code-request-email").value;
        toCode(email);
        say(`Check your inbox: if ${email} has an account, a login code is on its way.`);
        return true;
      }
      return false;
    });
    onSubmit(confirm, (f) => call("POST", "auth/code/confirm", f), (json) => {
      if (json.status === 200) return go("/", loggedInAs(json)), true;
      if (json.status === 401 && !pendingFlow(json)) {
        return go("/login/code", "That code was wrong too many times. Ask for a new one."), true;
      }
      return false;
    });
  },

  async verifyEmail() {
    if (pendingFlow() !== "verify_email") {
      $("#verify-pending").textContent = user() ? "Your address is verified. Nothing to do here." : "Nothing awaits verification right now. Sign up or log in first.";
      return;
    }
    const config = await call("GET", "config");
    if (!config.data?.account?.email_verification_by_code_enabled) {
      $("#verify-pending").textContent = "Check your inbox: open the link in the mail we sent you to verify your address (in this demo, the mails are in the Mailbox).";
      return;
    }
    $("#verify-pending").textContent = "Check your inbox: enter the code from the mail we sent you (in this demo, the mails are in the Mailbox).";
    $("#verify-code").hidden = false;
    $("#verify-resend").hidden = false;
    onSubmit($("#verify-code"), (f) => call("POST", "auth/email/verify", f), (json) => {
      if (json.status === 200) return go("/", `Thanks, your address is verified. ${loggedInAs(json)}`), true;
      if (json.status === 401 && !pendingFlow(json)) return go("/login", "Your address is verified. Log in to continue."), true;
      return false;
    });
    onSubmit($("#verify-resend"), () => call("POST", "auth/email/verify/resend"), (json) => {
      if (json.status === 200) return say("A new code is on its way. Check your inbox."), true;
      return false;
    });
  },

  async verifyKey() {
    const key = decodeURIComponent(path.split("/").pop());
    const info = await call("GET", "auth/email/verify", undefined, { "x-email-verification-key": key });
    if (info.status !== 200) {
      $("#verify-key-info").textContent = problemOf(info) ?? "This verification link is invalid or has expired. Log in to get a new one.";
      return say($("#verify-key-info").textContent, true);
    }
    const email = info.data.email;
    $("#verify-key-info").textContent = `Confirm that ${email} is your email address.`;
    const form = $("#verify-key");
    form.hidden = false;
    onSubmit(form, () => call("POST", "auth/email/verify", { key }), (json) => {
      if (json.status === 200) return go("/", `Thanks, ${email} is verified. ${loggedInAs(json)}`), true;
      if (json.status === 401 && !pendingFlow(json)) return go(user() ? "/account/email" : "/login", `Thanks, ${email} is verified.${user() ? "" : " Log in to continue."}`), true;
      return false;
    });
  },

  resetRequest() {
    onSubmit($("#reset-request"), (f) => call("POST", "auth/password/request", f), (json) => {
      const email = $("#reset-request-email").value;
      if (json.status === 200) {
        say(`Check your inbox: if ${email} has an account, a link to reset its password is on its way.`);
        return true;
      }
      if (json.status === 401 && pendingFlow(json) === "password_reset_by_code") {
        return go("/account/password/reset/code", `Check your inbox: if ${email} has an account, a reset code is on its way.`), true;
      }
      return false;
    });
  },

  resetCode() {
    if (pendingFlow() !== "password_reset_by_code") {
      $("#reset-code-info").textContent = "No password reset is waiting for a code. Start again from “Forgot your password?”.";
      $("#reset-code").hidden = true;
      return;
    }
    onSubmit($("#reset-code"), (f) => call("POST", "auth/password/reset", f), (json) => {
      if (json.status === 200) return go("/", `Your password has been reset. ${loggedInAs(json)}`), true;
      if (json.status === 401 && !pendingFlow(json) && !json.errors) return go("/login", "Your password has been reset. Log in with your new password."), true;
      if (json.status === 409) return go("/account/password/reset", "That code was wrong too many times. Ask for a new one."), true;
      return false;
    });
  },

  async resetKey() {
    const key = decodeURIComponent(path.split("/").pop());
    const info = await call("GET", "auth/password/reset", undefined, { "x-password-reset-key": key });
    if (info.status !== 200) {
      $("#reset-key-info").textContent = problemOf(info) ?? "This reset link is invalid or has expired. Ask for a new one from “Forgot your password?”.";
      return say($("#reset-key-info").textContent, true);
    }
    const email = who(info.data.user);
    $("#reset-key-info").textContent = `Choose a new password for ${email}.`;
    const form = $("#reset-key");
    form.elements.username.value = email;
    form.hidden = false;
    onSubmit(form, (f) => call("POST", "auth/password/reset", { key, password: f.password }), (json) => {
      if (json.status === 200) return go("/", `Your password has been changed. ${loggedInAs(json)}`), true;
      if (json.status === 401 && !json.errors) return go("/login", "Your password has been changed. Log in with your new password."), true;
      return false;
    });
  },

  logout() {
    $("#logout-who").textContent = user() ? `You are logged in as ${who(user())}.` : "You are not logged in.";
    onSubmit($("#logout"), () => call("DELETE", "auth/session"), (json) => {
      if (json.status === 401) return go("/", "You are logged out."), true;
      return false;
    });
  },

  providerCallback() {
    const error = query.get("error");
    if (error) {
      const text = error === "cancelled" || error === "access_denied" ? "You cancelled signing in at the provider." : `Signing in with the provider did not work (${error}).`;
      $("#callback-info").textContent = text;
      return say(text, true);
    }
    if (user()) return go("/", `You are logged in as ${who(user())}.`);
    const flow = pendingFlow();
    if (flow === "verify_email") return go("/verify-email", "Almost there: check your inbox to verify your email address.");
    if (flow === "provider_signup") return go("/account/provider/signup");
    if (flow && flowPages[flow]) return go(flowPages[flow]);
    $("#callback-info").textContent = "Signing in with the provider did not finish. Try again from the login page.";
  },

  async providerSignup() {
    if (pendingFlow() !== "provider_signup") {
      $("#provider-signup-info").textContent = "No provider sign-up is waiting. Start from the login page.";
      $("#provider-signup").hidden = true;
      return;
    }
    const info = await call("GET", "auth/provider/signup");
    const name = info.data?.account?.provider?.name ?? "the provider";
    $("#provider-signup-info").textContent = `You signed in with ${name}. Choose the email address for your new account.`;
    const suggested = info.data?.email?.[0]?.email;
    if (suggested) $("#provider-signup-email").value = suggested;
    onSubmit($("#provider-signup"), (f) => call("POST", "auth/provider/signup", f), (json) => {
      if (json.status === 200) return go("/", `Welcome! ${loggedInAs(json)}`), true;
      if (json.status === 401 && pendingFlow(json) === "verify_email") {
        return go("/verify-email", `Thanks for signing up. Check your inbox to verify ${$("#provider-signup-email").value}.`), true;
      }
      return false;
    });
  },

  mailbox() {
    for (const button of document.querySelectorAll("button[data-copy]")) {
      button.addEventListener("click", async () => {
        const code = document.getElementById(button.dataset.copy).textContent;
        try {
          await navigator.clipboard.writeText(code);
          say(`Copied the code ${code}.`);
        } catch {
          const range = document.createRange();
          range.selectNodeContents(document.getElementById(button.dataset.copy));
          getSelection().removeAllRanges();
          getSelection().addRange(range);
          say("The code is selected: press Ctrl+C (or ⌘C) to copy it.");
        }
      });
    }
  },
};
