/**
 * The origin a request was addressed to, as Django's `get_host` / `build_absolute_uri` see it:
 * the `Host` (the request URL's host), or `X-Forwarded-Host` / `X-Forwarded-Proto` when
 * `trustedProxyCount` > 0, checked against `allowedHosts` (Django's `ALLOWED_HOSTS`). Mailed
 * links are built on it, so a host outside the list is refused before anything runs.
 */

/** Django's host syntax: a name or IPv4 address, or a bracketed IPv6 address, and a port. */
const hostSyntax = /^([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(?::([0-9]{1,5}))?$/;

/** The host's domain without port and trailing dot, or null when it is not a host at all. */
export function hostDomain(host: string): string | null {
  const match = hostSyntax.exec(host.toLowerCase());
  if (match === null) {
    return null;
  }
  const domain = match[1]!;
  return domain.endsWith(".") ? domain.slice(0, -1) : domain;
}

/** Django's `validate_host`: `*`, an exact name, or `.example.com` for it and its subdomains. */
export function isAllowedHost(domain: string, allowed: ReadonlyArray<string>): boolean {
  return allowed.some((pattern) => {
    if (pattern === "*") {
      return true;
    }
    const bare = pattern.endsWith(".") && pattern !== "." ? pattern.slice(0, -1) : pattern;
    if (bare.startsWith(".")) {
      return domain === bare.slice(1) || domain.endsWith(bare);
    }
    return domain === bare;
  });
}

/** The value the outermost trusted proxy put in a comma-separated forwarding header. */
function forwarded(request: Request, name: string, trustedProxyCount: number): string | null {
  if (trustedProxyCount <= 0) {
    return null;
  }
  const values = (request.headers.get(name) ?? "").split(",").map((v) => v.trim()).filter(Boolean);
  return values.length === 0 ? null : values[Math.max(0, values.length - trustedProxyCount)]!;
}

export interface RequestOrigin {
  /** `scheme://host[:port]`, e.g. `http://localhost:3000`. */
  readonly origin: string;
  readonly secure: boolean;
}

/** The request's origin, or null when its host is malformed or not allowed. */
export function requestOrigin(
  request: Request,
  config: { readonly allowedHosts: ReadonlyArray<string>; readonly trustedProxyCount: number },
): RequestOrigin | null {
  const url = new URL(request.url);
  const host = forwarded(request, "x-forwarded-host", config.trustedProxyCount) ?? url.host;
  const domain = hostDomain(host);
  if (domain === null || !isAllowedHost(domain, config.allowedHosts)) {
    return null;
  }
  const proto = forwarded(request, "x-forwarded-proto", config.trustedProxyCount)?.toLowerCase();
  const scheme = proto === "https" || proto === "http" ? proto : url.protocol.slice(0, -1);
  return { origin: `${scheme}://${host.toLowerCase()}`, secure: scheme === "https" };
}

/** Django answers a `DisallowedHost` with a bare 400; here it is JSON like every other answer. */
export function disallowedHost(): Response {
  return new Response(
    JSON.stringify({ status: 400, errors: [{ message: "The request's host is not allowed.", code: "disallowed_host" }] }),
    { status: 400, headers: { "content-type": "application/json", "cache-control": "no-store" } },
  );
}
