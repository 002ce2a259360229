/**
 * `checkPassword`: length in code points as typed, no composition
 * rules, whole-value blocklist, not entirely numeric, not the username / email / local part
 * (SECURITY.md CR-01, CR-02, CR-03, CR-05, CR-07).
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { checkPassword, passwordErrors } from "../../src/domain/password.ts";

const policy = { minLength: 15, maxLength: 1024 };

describe("checkPassword: length", () => {
  it("refuses 14 code points and accepts 15", () => {
    expect(checkPassword("xkcd-horse-bat", policy)).toEqual({ code: "password_too_short", param: "password", details: { limit: 15 } });
    expect(checkPassword("xkcd-horse-bats", policy)).toBeNull();
  });

  it("counts code points, not UTF-16 units or bytes", () => {
    const emoji15 = "🦊🐙🦉🐢🦋🐝🦀🐬🦜🐧🦔🐿🦦🦥🐌";
    expect([...emoji15]).toHaveLength(15);
    expect(emoji15.length).toBe(30);
    expect(checkPassword(emoji15, policy)).toBeNull();
    expect(checkPassword([...emoji15].slice(0, 14).join(""), policy)).toEqual({
      code: "password_too_short",
      param: "password",
      details: { limit: 15 },
    });
  });

  it("counts the code points as typed, not after NFKC (CR-02, issue #10 finding 8)", () => {
    // U+FDFA is one code point and 18 after NFKC; U+FB01 "ﬁ" is one, two after NFKC.
    expect("\ufdfa".normalize("NFKC")).toHaveLength(18);
    expect(checkPassword("\ufdfa", policy)).toEqual({ code: "password_too_short", param: "password", details: { limit: 15 } });
    expect(checkPassword("\ufb01".repeat(8), policy)?.code).toBe("password_too_short");
    expect(checkPassword("\ufb01".repeat(14), policy)?.code).toBe("password_too_short");
    expect(checkPassword("\ufb01".repeat(15), policy)).toBeNull();
  });

  it("accepts 64, 256 and 1024 characters and refuses 1025, even of multi-byte characters", () => {
    expect(checkPassword("a1b2c3d4".repeat(8), policy)).toBeNull();
    expect(checkPassword("a1b2c3d4".repeat(32), policy)).toBeNull();
    expect(checkPassword("x".repeat(1023) + "y", policy)).toBeNull();
    expect(checkPassword("x".repeat(1025), policy)).toEqual({ code: "max_length", param: "password", details: { limit: 1024, length: 1025 } });
    expect(checkPassword("😀".repeat(1024), policy)).toBeNull();
    expect(checkPassword("😀".repeat(1025), policy)).toEqual({ code: "max_length", param: "password", details: { limit: 1024, length: 1025 } });
  });

  it("refuses an oversized password before any other check", () => {
    expect(checkPassword("1".repeat(2000), policy)?.code).toBe("max_length");
    expect(checkPassword("password".repeat(200), policy)?.code).toBe("max_length");
  });

  it("honours a configured policy", () => {
    expect(checkPassword("short-one", { minLength: 8, maxLength: 10 })).toBeNull();
    expect(checkPassword("eleven-char", { minLength: 8, maxLength: 10 })?.code).toBe("max_length");
  });
});

describe("checkPassword: no composition rules", () => {
  it.each([
    "correct horse battery staple",
    "пароль-очень-длинный-123",
    "all lower case words here",
    "ALL UPPER CASE WORDS HERE",
    "           x               ",
    "日本語のパスワードはこれです。長い",
  ])("accepts %j", (password) => {
    expect(checkPassword(password, policy)).toBeNull();
  });
});

describe("checkPassword: blocklist and context", () => {
  it.each(["password123456789", "PasswordPassword", "Password Password", "iloveyou iloveyou"])(
    "refuses the common %j",
    (password) => {
      expect(checkPassword(password, policy)).toEqual({ code: "password_too_common", param: "password" });
    },
  );

  it("reports every failing rule, each its own error, as Django's validate_password does", () => {
    expect(passwordErrors("123456789012345", policy)).toEqual([
      { code: "password_too_common", param: "password" },
      { code: "password_entirely_numeric", param: "password" },
    ]);
    expect(passwordErrors("9182", policy, { username: "9182" }, "new_password")).toEqual([
      { code: "password_too_similar", param: "new_password", details: { attribute: "username" } },
      { code: "password_too_short", param: "new_password", details: { limit: 15 } },
      { code: "password_entirely_numeric", param: "new_password" },
    ]);
    expect(checkPassword("123456789012345", policy)).toEqual({
      code: "password_too_common",
      param: "password",
      also: [{ code: "password_entirely_numeric", param: "password" }],
    });
  });

  it("uses a list of at least 20,000 common passwords, matched case-insensitively after NFKC (CR-07, issue #10 finding 8)", () => {
    for (const password of ["Password12345678", "passwordpassword1", "PASSWORD12345678", "ｐａｓｓｗｏｒｄ12345678", "superman superman", "Dragon1234567890"]) {
      expect(checkPassword(password, policy), password).toEqual({ code: "password_too_common", param: "password" });
    }
    // entries deep in the list, each padded to the minimum with another entry
    expect(checkPassword("trustno1trustno1", policy)?.code).toBe("password_too_common");
    expect(checkPassword("sunshine-2024-x7q", policy)).toBeNull();
  });

  it("ships the list: at least 20,000 entries, one a line, lower-cased", () => {
    const lines = gunzipSync(readFileSync(new URL("../../src/domain/common-passwords.txt.gz", import.meta.url))).toString("utf8").split("\n").filter((l) => l !== "");
    expect(lines.length).toBeGreaterThanOrEqual(20000);
    expect(lines.every((l) => l === l.normalize("NFKC").toLowerCase())).toBe(true);
    expect(lines).toContain("password");
  });

  it("compares whole values: a password that merely contains a common one is accepted", () => {
    expect(checkPassword("password123456789 but longer", policy)).toBeNull();
  });

  it("refuses entirely numeric passwords", () => {
    expect(checkPassword("9081726354019283", policy)).toEqual({ code: "password_entirely_numeric", param: "password" });
    expect(checkPassword("9081726354019283x", policy)).toBeNull();
  });

  it("refuses the username, the email address and its local part", () => {
    const context = { username: "Long.User.Name.1", email: "someone.with.long.name@example.com" };
    const similar = (attribute: string) => ({ code: "password_too_similar", param: "password", details: { attribute } });
    expect(checkPassword("long.user.name.1", policy, context)).toEqual(similar("username"));
    expect(checkPassword("someone.with.long.name@example.com", policy, context)).toEqual(similar("email address"));
    expect(checkPassword("SOMEONE.WITH.LONG.NAME", policy, context)).toEqual(similar("email address"));
    expect(checkPassword("someone.with.long.name!", policy, context)).toBeNull();
  });
});
