/**
 * Email addresses: exactly one plain addr-spec, validated before and after normalisation, stored
 * in one canonical form (trimmed, lower-cased, IDN domain as A-labels). Lists, display names,
 * quoted local parts, comments, control and invisible characters, and look-alike `@` signs are
 * refused rather than repaired. Mail always goes to the stored canonical address.
 */
import { domainToASCII } from "node:url";

const localPart = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const label = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

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
  const email = `${local}@${ascii}`;
  return email.length > maxLength ? null : email;
}
