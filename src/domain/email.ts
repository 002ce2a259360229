/**
 * Email addresses: exactly one plain addr-spec, validated before and after normalisation, stored
 * in one canonical form (trimmed, lower-cased, IDN domain as A-labels). Lists, display names,
 * quoted local parts, comments, control and invisible characters, look-alike `@` signs and domain
 * labels that mix scripts are refused rather than repaired. Mail always goes to the stored
 * canonical address.
 */
import { domainToASCII, domainToUnicode } from "node:url";

const localPart = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const label = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Scripts told apart in a domain label; letters of any other script count as one more. */
const scripts = ["Latin", "Greek", "Cyrillic", "Armenian", "Hebrew", "Arabic", "Georgian", "Cherokee", "Devanagari", "Thai", "Han", "Hiragana", "Katakana", "Bopomofo", "Hangul"].map(
  (name) => [name, new RegExp(`^\\p{Script=${name}}$`, "u")] as const,
);

/** The sets of scripts one label may mix (UTS #39's highly restrictive profile): Latin with CJK. */
const allowedMixes = [
  ["Latin", "Han", "Hiragana", "Katakana"],
  ["Latin", "Han", "Bopomofo"],
  ["Latin", "Han", "Hangul"],
];

/**
 * Whether a (Unicode) domain label keeps to one script, or to one of the allowed mixes, so
 * `exаmple` with a Cyrillic "а" among Latin letters is refused (UTS #39). Digits, hyphens and
 * combining marks belong to no script here.
 */
function singleScript(label: string): boolean {
  if (/^[\x00-\x7F]*$/.test(label)) {
    // ASCII letters are all Latin: one script.
    return true;
  }
  const used = new Set<string>();
  for (const char of label) {
    if (/^\p{L}$/u.test(char)) {
      used.add(scripts.find(([, pattern]) => pattern.test(char))?.[0] ?? "other");
    }
  }
  return used.size <= 1 || allowedMixes.some((mix) => [...used].every((script) => mix.includes(script)));
}

/** The canonical form of `value`, or null when it is not one valid address. */
export function cleanEmail(value: string, maxLength = 254): string | null {
  const trimmed = value.trim();
  if (trimmed.length === 0 || trimmed.length > maxLength || trimmed !== trimmed.normalize("NFC")) {
    return null;
  }
  // One ASCII "@", and nothing that NFKC would turn into another one (fullwidth, small).
  if (trimmed.normalize("NFKC").split("@").length !== 2 || trimmed.split("@").length !== 2) {
    return null;
  }
  const [local, domain] = trimmed.toLowerCase().split("@") as [string, string];
  if (local.length > 64 || !localPart.test(local)) {
    return null;
  }
  const ascii = domainToASCII(domain);
  if (ascii === "" || ascii.length > 253) {
    return null;
  }
  const labels = ascii.split(".");
  if (labels.length < 2 || !labels.every((l) => label.test(l)) || /^\d+$/.test(labels.at(-1)!)) {
    return null;
  }
  // A domain with no A-label ("xn--") is ASCII, one script; only the others are decoded and checked.
  if (ascii.includes("xn--") && !domainToUnicode(ascii).split(".").every(singleScript)) {
    return null;
  }
  const email = `${local}@${ascii}`;
  return email.length > maxLength ? null : email;
}
