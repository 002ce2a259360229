/**
 * The demo's pages, one module graph, no build step: it shows the template for the address
 * (`index.html`), then runs that page's function. Shared helpers are in `ui.js`; the pages in
 * `pages-auth.js` and `pages-account.js`.
 */
import { accountPages } from "./pages-account.js";
import { authPages } from "./pages-auth.js";
import { $, call, main, path, providerForms, renderNav, say, state } from "./ui.js";

/** Address → [template, page function, title]. */
function route() {
  const pages = { ...authPages, ...accountPages };
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
  state.session = current;
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
