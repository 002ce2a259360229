/**
 * The client address as a rate-limit key (SECURITY.md TH-05; issue #10 finding 6): an IPv6
 * client is keyed by its /64, the block one subscriber usually holds, and an IPv4-mapped IPv6
 * address (`::ffff:192.0.2.1`) by its IPv4 address. Anything else is kept as given.
 */
import { isIPv4, isIPv6 } from "node:net";

/** The eight 16-bit groups of an IPv6 address (an embedded dotted IPv4 tail taken as two). */
function groups(address: string): Array<number> {
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  let text = address;
  if (dotted !== null) {
    const [a, b, c, d] = dotted[1]!.split(".").map(Number) as [number, number, number, number];
    text = `${address.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const parse = (part: string | undefined) => (part === undefined || part === "" ? [] : part.split(":").map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = parse(tail);
  return tail === undefined ? left : [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

export function rateLimitIp(ip: string): string {
  const address = ip.replace(/%.*$/, "");
  if (!isIPv6(address)) {
    return ip;
  }
  const g = groups(address);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    const v4 = [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff].join(".");
    return isIPv4(v4) ? v4 : ip;
  }
  return `${g.slice(0, 4).map((x) => x.toString(16)).join(":")}::/64`;
}
