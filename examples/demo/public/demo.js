/**
 * The demo's pages: one module, no build step. It shows the template for the address, and talks
 * to the allauth headless API's browser client (`/_allauth/browser/v1/…`, the `csrftoken`
 * cookie sent back as `X-CSRFToken`). Answers are told in words; a 401 with a pending flow
 * leads to that flow's next step, as allauth's headless flow model has it.
 */
const api = "/_allauth/browser/v1/";
const $ = (selector, root = document) => root.querySelector(selector);
const main = $("#main");
const path = location.pathname;
const query = new URLSearchParams(location.search);

const csrf = () => document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.slice("csrftoken=".length) ?? "";

/** One API call; resolves to the JSON answer (with `status`), never throws for an HTTP status. */
async function call(method, endpoint, body, headers = {}) {
  try {
    const response = await fetch(api + endpoint, {
      method,
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrftoken": csrf(), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await response.json().catch(() => ({}));
    return { ...json, status: response.status };
  } catch {
    return { status: 0 };
  }
}

// ---- the status region and the message carried to the next page ----

function say(text, problem = false) {
  const status = $("#status");
  status.classList.toggle("problem", problem);
  status.textContent = text;
}
function go(to, message) {
  if (message) sessionStorage.setItem("demo-flash", message);
  location.assign(to);
}

// ---- the session ----

let session = { status: 0 };
const user = () => (session.meta?.is_authenticated ? session.data.user : null);
const pendingFlow = (json = session) => json.data?.flows?.find((flow) => flow.is_pending)?.id ?? null;
const who = (u) => u.email ?? u.display;

/** Where a pending flow continues. */
const flowPages = {
  verify_email: "/verify-email",
  login_by_code: "/login/code",
  password_reset_by_code: "/account/password/reset/code",
  provider_signup: "/account/provider/signup",
  reauthenticate: "/reauthenticate",
};

/** What every page does with an answer it has no special words for. */
function problemOf(json) {
  switch (json.status) {
    case 0: return "The demo server cannot be reached. Is it still running?";
    case 403: return "This page was open too long, or your session changed. Reload the page and try again.";
    case 409: return "That cannot be done while you are logged in. Log out first.";
    case 410: return "Your session has ended. Log in again.";
    case 429: return "Too many attempts. Wait a little, then try again.";
    case 500: case 503: return "Something went wrong on the server. Try again in a moment.";
    default: return null;
  }
}

/** Shows a 400's errors next to their fields (their `param`), the rest at the form's foot. */
function showErrors(form, json) {
  clearErrors(form);
  const errors = json.errors ?? [];
  let first = null;
  for (const error of errors) {
    const slot = form.querySelector(`[data-error-for="${error.param ?? ""}"]`) ?? form.querySelector('[data-error-for=""]');
    slot.textContent = slot.textContent ? `${slot.textContent} ${error.message}` : error.message;
    const input = error.param ? form.querySelector(`[name="${error.param}"]`) : null;
    if (input) {
      input.setAttribute("aria-invalid", "true");
      first ??= input;
    }
  }
  say(errors.length === 1 ? `Please fix this: ${errors[0].message}` : "Please fix the problems shown on the form.", true);
  first?.focus();
}
function clearErrors(form) {
  for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

/**
 * Wires a form: on submit, `send(fields)` makes the call; `done(json)` handles success (and any
 * status it knows). 400 shows the errors, a 401 with a pending flow goes to its page, and a 401
 * asking to reauthenticate goes there and back (`replayed(fields)`: the words for what the
 * server does once the user has reauthenticated, for the email changes it keeps and replays).
 */
function onSubmit(form, send, done, replayed = null) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    say("Working…");
    const fields = Object.fromEntries(new FormData(form));
    const json = await send(fields);
    button.disabled = false;
    if (await done(json)) return;
    if (json.status === 400) return showErrors(form, json);
    if (json.status === 401 && json.meta?.is_authenticated && json.data?.flows?.some((f) => f.id === "reauthenticate")) {
      // An email change asked for is kept by the server and made once you have confirmed.
      if (replayed) sessionStorage.setItem("demo-replayed", replayed(fields));
      return go(`/reauthenticate?next=${encodeURIComponent(path)}`, replayed ? "Please confirm it’s you first; then your change is made." : "Please confirm it’s you first, then try again.");
    }
    const flow = json.status === 401 ? pendingFlow(json) : null;
    if (flow && flowPages[flow]) return go(flowPages[flow]);
    const problem = problemOf(json) ?? "That did not work. Reload the page and try again.";
    form.querySelector('[data-error-for=""]').textContent = problem;
    say(problem, true);
  });
}

const loggedInAs = (json) => `You are logged in as ${who(json.data.user)}.`;

// ---- the navigation ----

function renderNav() {
  const links = user()
    ? [["/", "Home"], ["/account/email", "Email addresses"], ["/account/password", "Password"], ["/account/providers", "Connected accounts"], ["/account/sessions", "Sessions"], ["/logout", "Log out"]]
    : [["/", "Home"], ["/signup", "Sign up"], ["/login", "Log in"]];
  links.push(["/mailbox", "Mailbox"]);
  if (document.body.dataset.flows === "on") links.push(["/flows", "Flows"]);
  const nav = $("#nav");
  nav.replaceChildren(...links.map(([href, text]) => {
    const item = document.createElement("li");
    const link = Object.assign(document.createElement("a"), { href, textContent: text });
    if (href === path) link.setAttribute("aria-current", "page");
    item.append(link);
    return item;
  }));
  const pending = pendingFlow();
  $("#who").textContent = user() ? `Logged in as ${who(user())}` : pending === "verify_email" ? "Not logged in: your email address awaits verification" : "Not logged in";
}

// ---- provider buttons: real form posts, as allauth's redirect endpoint wants ----

function providerForms(container, providers, process) {
  const callback = process === "connect" ? "/account/providers" : "/account/provider/callback";
  container.replaceChildren(...providers.map((provider) => {
    const form = document.createElement("form");
    form.className = "inline";
    form.method = "post";
    form.action = `${api}auth/provider/redirect`;
    for (const [name, value] of Object.entries({ provider: provider.id, process, callback_url: callback, csrfmiddlewaretoken: "" })) {
      form.append(Object.assign(document.createElement("input"), { type: "hidden", name, value }));
    }
    const button = Object.assign(document.createElement("button"), {
      type: "submit",
      className: "secondary",
      textContent: process === "connect" ? `Connect ${provider.name}` : `Sign in with ${provider.name}`,
    });
    form.append(button);
    form.addEventListener("submit", () => {
      form.elements.csrfmiddlewaretoken.value = csrf();
      if (process === "connect") sessionStorage.setItem("demo-connecting", provider.name);
    });
    return form;
  }));
}

// ---- the pages ----

function requireUser() {
  if (user()) return true;
  go(`/login`, "Log in to see that page.");
  return false;
}

const pages = {
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

  password() {
    if (!requireUser()) return;
    const form = $("#password-change");
    const usable = user().has_usable_password;
    form.hidden = false;
    if (!usable) {
      form.querySelector(".field").remove();
      $("#password-submit").textContent = "Set password";
      say("Your account has no password yet. Set one to log in with it.");
    }
    onSubmit(form, (f) => call("POST", "account/password/change", f), (json) => {
      if (json.status === 200) {
        form.reset();
        say(usable ? "Your password has been changed. Your other sessions were logged out." : "Your password has been set.");
        return true;
      }
      return false;
    });
  },

  async email() {
    if (!requireUser()) return;
    const list = $("#email-list");
    const refresh = async () => {
      const json = await call("GET", "account/email");
      if (json.status !== 200) return say(problemOf(json) ?? "Your addresses could not be loaded.", true);
      list.replaceChildren(...json.data.map((address) => {
        const item = document.createElement("li");
        const what = Object.assign(document.createElement("span"), { className: "what", textContent: address.email });
        const badge = (text, good) => Object.assign(document.createElement("span"), { className: `badge${good ? " good" : ""}`, textContent: text });
        what.append(badge(address.verified ? "Verified" : "Unverified", address.verified));
        if (address.primary) what.append(badge("Primary", true));
        item.append(what);
        const action = (label, method, body, words, danger = false) => {
          const form = Object.assign(document.createElement("form"), { className: "inline" });
          const button = Object.assign(document.createElement("button"), { type: "submit", className: danger ? "danger" : "secondary", textContent: label });
          button.setAttribute("aria-label", `${label}: ${address.email}`);
          form.append(button, Object.assign(document.createElement("span"), { className: "error", role: "alert" }));
          form.lastChild.dataset.errorFor = "";
          onSubmit(form, () => call(method, "account/email", body), async (json) => {
            if (json.status === 403 && method === "PUT") {
              say(`A verification mail went to ${address.email} only moments ago. Wait a few minutes before asking for another.`, true);
              return true;
            }
            if (json.status !== 200) return false;
            await refresh();
            say(words);
            return true;
          }, () => words);
          item.append(form);
        };
        if (!address.verified) action("Resend verification", "PUT", { email: address.email }, `A new verification mail is on its way to ${address.email}. Check your inbox.`);
        if (address.verified && !address.primary) action("Make primary", "PATCH", { email: address.email, primary: true }, `${address.email} is now your primary address.`);
        if (!address.primary) action("Remove", "DELETE", { email: address.email }, `${address.email} has been removed.`, true);
        return item;
      }));
    };
    await refresh();
    const added = (email) => `${email} has been added. Check your inbox to verify it.`;
    onSubmit($("#email-add"), (f) => call("POST", "account/email", f), async (json) => {
      if (json.status !== 200) return false;
      const email = $("#email-add-email").value;
      $("#email-add").reset();
      await refresh();
      say(added(email));
      return true;
    }, (f) => added(f.email));
  },

  async providers(config) {
    if (!requireUser()) return;
    const list = $("#provider-list");
    const connecting = sessionStorage.getItem("demo-connecting");
    sessionStorage.removeItem("demo-connecting");
    const refresh = async () => {
      const json = await call("GET", "account/providers");
      if (json.status !== 200) return say(problemOf(json) ?? "Your connected accounts could not be loaded.", true);
      if (json.data.length === 0) {
        list.replaceChildren(Object.assign(document.createElement("li"), { textContent: "No account is connected." }));
        return;
      }
      list.replaceChildren(...json.data.map((account) => {
        const item = document.createElement("li");
        item.append(Object.assign(document.createElement("span"), { className: "what", textContent: `${account.provider.name}: ${account.display}` }));
        const form = Object.assign(document.createElement("form"), { className: "inline" });
        const button = Object.assign(document.createElement("button"), { type: "submit", className: "danger", textContent: "Disconnect" });
        button.setAttribute("aria-label", `Disconnect ${account.provider.name}: ${account.display}`);
        const error = Object.assign(document.createElement("span"), { className: "error" });
        error.dataset.errorFor = "";
        form.append(button, error);
        onSubmit(form, () => call("DELETE", "account/providers", { provider: account.provider.id, account: account.uid }), async (answer) => {
          if (answer.status !== 200) return false;
          await refresh();
          say(`Your ${account.provider.name} account ${account.display} has been disconnected.`);
          return true;
        });
        item.append(form);
        return item;
      }));
    };
    await refresh();
    providerForms($('[data-providers="connect"]'), config.data?.socialaccount?.providers ?? [], "connect");
    if (query.get("error") === "reauthentication_required") {
      return go("/reauthenticate?next=%2Faccount%2Fproviders", "Please confirm it’s you first, then connect again.");
    }
    if (query.has("error")) {
      say(query.get("error") === "cancelled" ? "Connecting was cancelled at the provider." : `Connecting did not work (${query.get("error")}).`, true);
    } else if (connecting) {
      say(`Your ${connecting} account has been connected.`);
    }
  },

  async sessions() {
    if (!requireUser()) return;
    const list = $("#session-list");
    let others = [];
    const refresh = async () => {
      const json = await call("GET", "auth/sessions");
      if (json.status !== 200) return say(problemOf(json) ?? "Your sessions could not be loaded.", true);
      others = json.data.filter((s) => !s.is_current).map((s) => s.id);
      list.replaceChildren(...json.data.map((s) => {
        const item = document.createElement("li");
        const seen = new Date((s.last_seen_at ?? s.created_at) * 1000).toLocaleString();
        const what = Object.assign(document.createElement("span"), { className: "what", textContent: `${s.user_agent || "Unknown browser"} · ${s.ip} · last seen ${seen}` });
        if (s.is_current) what.append(Object.assign(document.createElement("span"), { className: "badge good", textContent: "This session" }));
        item.append(what);
        return item;
      }));
    };
    await refresh();
    onSubmit($("#sessions-end"), async () => (others.length === 0 ? { status: 200, none: true } : call("DELETE", "auth/sessions", { sessions: others })), async (json) => {
      if (json.status !== 200) return false;
      const count = others.length;
      await refresh();
      say(json.none ? "You have no other sessions." : `Ended ${count === 1 ? "1 other session" : `${count} other sessions`}.`);
      return true;
    });
  },

  reauthenticate() {
    if (!requireUser()) return;
    $("#reauthenticate").elements.username.value = who(user());
    const next = query.get("next")?.startsWith("/") ? query.get("next") : "/";
    onSubmit($("#reauthenticate"), (f) => call("POST", "auth/reauthenticate", { password: f.password }), (json) => {
      if (json.status !== 200) return false;
      const replayed = sessionStorage.getItem("demo-replayed");
      sessionStorage.removeItem("demo-replayed");
      go(next, `Thanks, that’s you. ${replayed || "You can continue now."}`);
      return true;
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

/** Address → [template, page function, title]. */
function route() {
  const table = [
    [/^\/$/, "home", pages.home, "Welcome"],
    [/^\/(account\/)?signup$/, "signup", pages.signup, "Sign up"],
    [/^\/login$/, "login", pages.login, "Log in"],
    [/^\/login\/code$/, "login-code", pages.loginCode, "Log in with a code"],
    [/^\/verify-email$/, "verify-email", pages.verifyEmail, "Verify your email address"],
    [/^\/account\/verify-email\/[^/]+$/, "verify-key", pages.verifyKey, "Confirm your email address"],
    [/^\/account\/password\/reset$/, "reset-request", pages.resetRequest, "Reset your password"],
    [/^\/account\/password\/reset\/code$/, "reset-code", pages.resetCode, "Enter your reset code"],
    [/^\/account\/password\/reset\/key\/[^/]+$/, "reset-key", pages.resetKey, "Choose a new password"],
    [/^\/account\/password$/, "password", pages.password, "Password"],
    [/^\/account\/email$/, "email", pages.email, "Email addresses"],
    [/^\/account\/providers$/, "providers", pages.providers, "Connected accounts"],
    [/^\/account\/sessions$/, "sessions", pages.sessions, "Sessions"],
    [/^\/reauthenticate$/, "reauthenticate", pages.reauthenticate, "Confirm it’s you"],
    [/^\/logout$/, "logout", pages.logout, "Log out"],
    [/^\/account\/provider\/callback$/, "provider-callback", pages.providerCallback, "Signing in with a provider"],
    [/^\/account\/provider\/signup$/, "provider-signup", pages.providerSignup, "Finish signing up"],
    [/^\/mailbox$/, null, pages.mailbox, "Mailbox"],
  ];
  return table.find(([pattern]) => pattern.test(path)) ?? null;
}

async function start() {
  const [config, current] = await Promise.all([call("GET", "config"), call("GET", "auth/session")]);
  session = current;
  renderNav();
  const flash = sessionStorage.getItem("demo-flash");
  sessionStorage.removeItem("demo-flash");
  const found = route();
  if (found === null) return;
  const [, template, page, title] = found;
  document.title = `${title} · authmachines demo`;
  if (template !== null) main.replaceChildren($(`#page-${template}`).content.cloneNode(true));
  for (const container of main.querySelectorAll('[data-providers="login"]')) {
    providerForms(container, config.data?.socialaccount?.providers ?? [], "login");
  }
  if (flash) say(flash);
  await page(config);
  document.body.dataset.ready = "true";
}

void start();
