/**
 * What every page of the demo shares: calls to the allauth headless API's browser client
 * (`/_allauth/browser/v1/…`, the `csrftoken` cookie sent back as `X-CSRFToken`), the status
 * region, the session, forms whose errors show next to their fields, the navigation and the
 * provider buttons. A 401 with a pending flow leads to that flow's page, as allauth's headless
 * flow model has it.
 */
export const api = "/_allauth/browser/v1/";
export const $ = (selector, root = document) => root.querySelector(selector);
export const main = $("#main");
export const path = location.pathname;
export const query = new URLSearchParams(location.search);

export const csrf = () => document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.slice("csrftoken=".length) ?? "";

/** One API call; resolves to the JSON answer (with `status`), never throws for an HTTP status. */
export async function call(method, endpoint, body, headers = {}) {
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

export function say(text, problem = false) {
  const status = $("#status");
  status.classList.toggle("problem", problem);
  status.textContent = text;
}
export function go(to, message) {
  if (message) sessionStorage.setItem("demo-flash", message);
  location.assign(to);
}

// ---- the session ----

/** The session as `GET auth/session` answered when the page loaded. */
export const state = { session: { status: 0 } };
export const user = () => (state.session.meta?.is_authenticated ? state.session.data.user : null);
export const pendingFlow = (json = state.session) => json.data?.flows?.find((flow) => flow.is_pending)?.id ?? null;
export const who = (u) => u.email ?? u.display;

/** Where a pending flow continues. */
export const flowPages = {
  verify_email: "/verify-email",
  login_by_code: "/login/code",
  password_reset_by_code: "/account/password/reset/code",
  provider_signup: "/account/provider/signup",
  reauthenticate: "/reauthenticate",
};

/** What every page does with an answer it has no special words for. */
export function problemOf(json) {
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
export function showErrors(form, json) {
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
export function clearErrors(form) {
  for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

/**
 * Wires a form: on submit, `send(fields)` makes the call; `done(json)` handles success (and any
 * status it knows). 400 shows the errors, a 401 with a pending flow goes to its page, and a 401
 * asking to reauthenticate goes there and back (`replayed(fields)`: the words for what the
 * server does once the user has reauthenticated, for the email changes it keeps and replays).
 */
export function onSubmit(form, send, done, replayed = null) {
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

export const loggedInAs = (json) => `You are logged in as ${who(json.data.user)}.`;

// ---- the navigation ----

export function renderNav() {
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

export function providerForms(container, providers, process) {
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


/** True when someone is logged in; otherwise off to the login page. */
export function requireUser() {
  if (user()) return true;
  go(`/login`, "Log in to see that page.");
  return false;
}
