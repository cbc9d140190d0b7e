import { compileHostPattern, hostMatches, normalizeHost, type HostPattern } from '../core/index.js';

/**
 * Where a sign-in may send the browser back to. Anything else is dropped,
 * never "cleaned": a return URL either names an allowlisted host over
 * http(s), without credentials, or there is no return URL (no open redirect).
 * Every entry point that takes a return URL (ForwardAuth, OIDC `returnTo`,
 * the sign-in page) asks this one policy.
 */
export interface ReturnUrlPolicy {
  /** The normalized URL (as the browser will read it) when allowed; otherwise undefined. */
  check(url: string): string | undefined;
  /** The original URL from a proxy's X-Forwarded-Proto/-Host/-Uri, when all three are sound and allowed. */
  fromForwarded(parts: { proto: string | undefined; host: string | undefined; uri: string | undefined }): string | undefined;
}

/** Longer return URLs are dropped: they only serve to overflow logs and the proxy's header limits. */
export const RETURN_URL_MAX_LENGTH = 2048;

/** C0 controls, space, DEL and backslash: browsers and URL parsers disagree about them, so none pass. */
function hasUnsafeChar(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f || code === 0x5c) return true;
  }
  return false;
}

export function createReturnUrlPolicy(input: { hosts: readonly string[]; publicUrl?: string | undefined }): ReturnUrlPolicy {
  const patterns: HostPattern[] = input.hosts.map(compileHostPattern);
  if (input.publicUrl) patterns.push(compileHostPattern(new URL(input.publicUrl).hostname));
  const allowed = (host: string) => patterns.some((p) => hostMatches(p, host));

  function check(raw: string): string | undefined {
    if (typeof raw !== 'string' || raw.length === 0 || raw.length > RETURN_URL_MAX_LENGTH || hasUnsafeChar(raw)) return undefined;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return undefined;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
    if (url.username !== '' || url.password !== '') return undefined;
    const host = normalizeHost(url.hostname);
    if (host === undefined || !allowed(host)) return undefined;
    return url.href.length > RETURN_URL_MAX_LENGTH ? undefined : url.href;
  }

  return {
    check,
    fromForwarded({ proto, host, uri }) {
      if (proto !== 'https' && proto !== 'http') return undefined;
      if (!host || !uri || hasUnsafeChar(host) || /[/@?#]/.test(host)) return undefined;
      // A path that starts with `//` would make the URL parser read a new host from it.
      if (!uri.startsWith('/') || uri.startsWith('//')) return undefined;
      const name = normalizeHost(host);
      const url = name === undefined ? undefined : check(`${proto}://${host}${uri}`);
      if (url === undefined || normalizeHost(new URL(url).hostname) !== name) return undefined;
      return url;
    },
  };
}
