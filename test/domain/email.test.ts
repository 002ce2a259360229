/**
 * `cleanEmail`: exactly one plain addr-spec, one canonical form (trimmed, lower-cased, IDN domain
 * as A-labels); lists, display names, quoted local parts, control and invisible characters and
 * look-alike `@` signs are refused, never repaired (SECURITY.md EM-01, EM-03, EM-04, EM-06).
 */
import { describe, expect, it } from "vitest";
import { domainToASCII } from "node:url";
import { cleanEmail } from "../../src/domain/email.ts";

describe("cleanEmail: canonical form", () => {
  it.each([
    ["alice@example.com", "alice@example.com"],
    ["Alice@Example.COM", "alice@example.com"],
    ["  alice@example.com\t", "alice@example.com"],
    ["first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"],
    ["o'brien@example.ie", "o'brien@example.ie"],
    ["user@Bücher.Example", "user@xn--bcher-kva.example"],
    ["user@xn--bcher-kva.example", "user@xn--bcher-kva.example"],
    // IDNA maps fullwidth letters in the domain to ASCII: the canonical form is plain ASCII.
    ["victim@ｅxample.com", "victim@example.com"],
  ])("%j → %j", (input, expected) => {
    expect(cleanEmail(input)).toBe(expected);
  });

  it("keeps dots and plus tags (they are part of the identity)", () => {
    expect(cleanEmail("a.b+c@example.com")).not.toBe(cleanEmail("ab@example.com"));
    expect(cleanEmail("a.b+c@example.com")).toBe("a.b+c@example.com");
  });

  it("is idempotent", () => {
    for (const input of ["Alice@Example.COM", "user@Bücher.Example", " x.y+z@EXAMPLE.org "]) {
      const once = cleanEmail(input)!;
      expect(once).not.toBeNull();
      expect(cleanEmail(once)).toBe(once);
    }
  });
});

describe("cleanEmail: length limits (RFC 5321)", () => {
  /** A domain of exactly `length` characters: 63-character labels, then `.com`. */
  const domain = (length: number): string => {
    let body = "";
    let left = length - ".com".length;
    while (left > 0) {
      if (body !== "") {
        body += ".";
        left -= 1;
      }
      const size = Math.min(63, left);
      body += "d".repeat(size);
      left -= size;
    }
    return `${body}.com`;
  };

  it("accepts a 64-character local part and refuses 65", () => {
    expect(cleanEmail(`${"a".repeat(64)}@example.com`)).toBe(`${"a".repeat(64)}@example.com`);
    expect(cleanEmail(`${"a".repeat(65)}@example.com`)).toBeNull();
  });

  it("accepts a 254-character address and refuses 255", () => {
    const at254 = `${"a".repeat(64)}@${domain(254 - 65)}`;
    const at255 = `${"a".repeat(64)}@${domain(255 - 65)}`;
    expect(at254).toHaveLength(254);
    expect(at255).toHaveLength(255);
    expect(cleanEmail(at254)).toBe(at254);
    expect(cleanEmail(at255)).toBeNull();
  });

  it("honours a smaller configured maximum", () => {
    expect(cleanEmail("abcdef@example.com", 18)).toBe("abcdef@example.com");
    expect(cleanEmail("abcdefg@example.com", 18)).toBeNull();
  });

  it("refuses a label longer than 63 characters", () => {
    expect(cleanEmail(`a@${"d".repeat(64)}.com`)).toBeNull();
    expect(cleanEmail(`a@${"d".repeat(63)}.com`)).toBe(`a@${"d".repeat(63)}.com`);
  });
});

describe("cleanEmail: refused", () => {
  it.each([
    ["empty", ""],
    ["blank", "   "],
    ["no at", "alice.example.com"],
    ["no local part", "@example.com"],
    ["no domain", "alice@"],
    ["two ats", "a@b@example.com"],
    ["double at", "a@@example.com"],
    ["fullwidth at U+FF20", "victim＠example.com"],
    ["second fullwidth at", "a@b.com＠evil.test"],
    ["small commercial at U+FE6B", "a﹫example.com"],
    ["CRLF header injection", "a@x.io\r\nBcc: e@evil.test"],
    ["embedded LF", "a@x.io\nb@y.io"],
    ["embedded TAB", "a\t@example.com"],
    ["comma list", "a@x.com,b@y.com"],
    ["semicolon list", "a@x.com;b@y.com"],
    ["space-separated list", "a@x.com b@y.com"],
    ["display name", "Name <a@x.com>"],
    ["angle brackets", "<a@x.com>"],
    ["group syntax", "g: a@x.com;"],
    ["quoted local part with at", '"a@evil.test x"@corp.test'],
    ["quoted local part and comment", '"u"@corp.test(x)evil.test'],
    ["quoted local part", '"alice"@example.com'],
    ["comment", "alice(comment)@example.com"],
    ["leading dot", ".alice@example.com"],
    ["trailing dot", "alice.@example.com"],
    ["consecutive dots", "al..ice@example.com"],
    ["single-label domain", "alice@localhost"],
    ["empty label", "alice@example..com"],
    ["label starting with a hyphen", "alice@-example.com"],
    ["label ending with a hyphen", "alice@example-.com"],
    ["IP literal", "alice@[127.0.0.1]"],
    ["numeric TLD", "alice@1.2.3.4"],
    ["RTL override U+202E in local part", "alice\u202e@example.com"],
    ["RTL override U+202E in domain", "alice@exa\u202emple.com"],
    ["zero-width space", "ali\u200bce@example.com"],
    ["zero-width joiner in domain", "alice@exam\u200dple.com"],
    ["zero-width non-joiner at the end", "alice@example.com\u200c"],
    ["NUL in local part", "ali\u0000ce@example.com"],
    ["NUL at the end", "alice@example.com\u0000"],
    ["DEL", "ali\u007fce@example.com"],
    ["non-ASCII local part (dotless i)", "m\u0131ke@example.org"],
    ["non-ASCII local part (Cyrillic a)", "\u0430lice@example.com"],
    ["not NFC (e + combining acute in domain)", "alice@cafe\u0301.example"],
    ["backslash", "a\\b@example.com"],
    ["percent-encoded at only", "alice%40example.com"],
  ])("%s", (_name, input) => {
    expect(cleanEmail(input)).toBeNull();
  });
});

describe("cleanEmail: mixed-script domain labels (UTS #39; SECURITY.md EM-03, issue #10 finding 10)", () => {
  it.each([
    ["Latin with a Cyrillic а", "user@ex\u0430mple.com"],
    ["Latin with a Greek ο", "user@g\u03bfogle.com"],
    ["Cyrillic with a Latin e in the top-level label", "user@example.\u0440\u0444e"],
    ["the same label given as an A-label", `user@${domainToASCII("ex\u0430mple.com")}`],
    ["Latin with Cyrillic in a subdomain", "user@m\u0430il.example.com"],
  ])("refuses %s", (_, input) => {
    expect(cleanEmail(input)).toBeNull();
  });

  it.each([
    ["one script per label", "user@\u043f\u0440\u0438\u043c\u0435\u0440.example", "user@xn--e1afmkfd.example"],
    ["Greek, with digits and hyphens", "user@\u03b5\u03bb\u03bb\u03ac\u03b4\u03b1-2.example", "user@xn---2-v8buoe6ba.example"],
    ["Latin with Han and Katakana (Japanese)", "user@abc\u65e5\u672c\u30c6.example", `user@${domainToASCII("abc\u65e5\u672c\u30c6.example")}`],
    ["Latin with accents", "user@b\u00fccher.example", "user@xn--bcher-kva.example"],
  ])("accepts %s", (_, input, expected) => {
    expect(cleanEmail(input)).toBe(expected);
  });
});
