import { describe, expect, it } from "vitest";
import { dummyPage, dummyProfile } from "../../src/social/dummy.ts";

describe("the dummy provider's form", () => {
  it("maps the fields to a profile, keeping the whole cleaned form as extra data", () => {
    const result = dummyProfile({ id: " 42 ", email: "Ann@Example.com", email_verified: "on", username: "ann", first_name: " Ann ", last_name: "" });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.profile).toEqual({
      provider: "dummy",
      uid: "42",
      extraData: { id: 42, email: "Ann@Example.com", email_verified: true, username: "ann", first_name: "Ann", last_name: "", phone: "", phone_verified: false },
      emailAddresses: [{ email: "ann@example.com", verified: true, primary: true }],
      username: "ann",
      firstName: "Ann",
      lastName: null,
      tokens: null,
    });
  });

  it("reads a checkbox left empty or 'false' as unverified, and no email as no address", () => {
    for (const email_verified of [undefined, "", "false", "0", false]) {
      const result = dummyProfile({ id: "7", email: "x@example.com", email_verified });
      expect(result.ok && result.profile.emailAddresses).toEqual([{ email: "x@example.com", verified: false, primary: true }]);
    }
    const bare = dummyProfile({ id: 7 });
    expect(bare.ok && [bare.profile.emailAddresses, bare.profile.username]).toEqual([[], null]);
  });

  it("reports field errors as allauth's form does", () => {
    expect(dummyProfile({})).toEqual({ ok: false, errors: { id: ["This field is required."] } });
    expect(dummyProfile({ id: "1.5", email: "nope" })).toEqual({
      ok: false,
      errors: { id: ["Enter a whole number."], email: ["Enter a valid email address."] },
    });
    expect(dummyProfile({ id: "2.0" }).ok).toBe(true);
  });
});

describe("the dummy provider's page", () => {
  it("has the Account ID field, the email fields, Login and Cancel", () => {
    const page = dummyPage({ action: "/accounts/dummy/authenticate/?state=abc", state: "abc" });
    expect(page).toContain("<title>Dummy provider</title>");
    expect(page).toMatch(/<label for="id_id">Account ID<\/label> <input id="id_id" name="id" type="number" value="" required>/);
    expect(page).toContain('name="email" type="email"');
    expect(page).toMatch(/<input name="email_verified" type="checkbox" value="true"> Email verified/);
    for (const name of ["username", "first_name", "last_name"]) {
      expect(page).toContain(`name="${name}" type="text"`);
    }
    expect(page).toContain('<button type="submit">Login</button>');
    expect(page).toContain('<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button>');
    expect(page).toContain('action="/accounts/dummy/authenticate/?state=abc"');
    expect(page).toContain('<input type="hidden" name="state" value="abc">');
  });

  it("escapes every value, error, action and hidden field", () => {
    const evil = `"><script>alert('x')</script>&`;
    const page = dummyPage({
      action: `/a?state=${evil}`,
      state: evil,
      values: { id: evil, email: evil, username: evil, email_verified: "on" },
      errors: { email: [evil] },
      hidden: { csrfmiddlewaretoken: evil },
    });
    expect(page).not.toContain("<script>");
    expect(page).not.toContain(`"><script`);
    expect(page).not.toContain("alert('x')");
    expect(page).toContain("&#34;&#62;&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;&#38;");
    expect(page).toContain('<ul class="errorlist"><li>&#34;&#62;&#60;script');
    expect(page).toContain('type="checkbox" value="true" checked>');
  });
});
