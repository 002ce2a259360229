/**
 * The demo's account pages, for a logged-in user: password (change or set), email addresses,
 * connected accounts, sessions, and reauthentication.
 */
import { $, call, go, onSubmit, problemOf, providerForms, query, requireUser, say, user, who } from "./ui.js";

/** The page functions, by name; each gets the API's `GET config` answer. */
export const accountPages = {
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
};
