import { compileHostPattern, hostMatches, normalizeHost } from '../core/index.js';

export type UrlVerdict = { ok: true } | { ok: false; reason: string };

/** Decides whether the session may reach a URL: the one rule behind the route handler, the redirect check, the WebSocket check and the login guard. */
export interface UrlGuard {
  check(url: string): UrlVerdict;
}

const SECURE = new Set(['https:', 'wss:']);
const INSECURE = new Set(['http:', 'ws:']);

/**
 * Compares the parsed host of each URL with the allowlist (exact names or `*.example.com`).
 * The WHATWG parser decides what the host is, as Chromium does, so `https://portal@evil/`,
 * `https://evil/portal.example.com` and percent-encoded or trailing-dot tricks are judged by the
 * host the browser would contact. Userinfo is refused outright: no portal needs it, and it is the
 * usual way to dress one host up as another.
 */
export function createUrlGuard(options: { allowedHosts: readonly string[]; allowInsecureHttp: boolean }): UrlGuard {
  const patterns = options.allowedHosts.map((host) => compileHostPattern(host));
  return {
    check(url) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        return { ok: false, reason: 'unparsable URL' };
      }
      if (!SECURE.has(parsed.protocol) && !(options.allowInsecureHttp && INSECURE.has(parsed.protocol))) {
        return { ok: false, reason: INSECURE.has(parsed.protocol) ? 'plain http is not allowed for this asset' : `scheme ${parsed.protocol} is not allowed` };
      }
      if (parsed.username !== '' || parsed.password !== '') return { ok: false, reason: 'credentials in the URL are not allowed' };
      const host = normalizeHost(parsed.hostname);
      if (host === undefined) return { ok: false, reason: 'host is not a plain name' };
      if (!patterns.some((pattern) => hostMatches(pattern, host))) return { ok: false, reason: `host ${host} is not allowed` };
      return { ok: true };
    },
  };
}

const LOCAL_SCHEMES = new Set(['file:', 'chrome:', 'chrome-extension:', 'devtools:', 'view-source:', 'chrome-error:']);

/** URL text for events and logs: origin and path only, so query strings (tokens, one-time codes) never reach the audit trail. */
export function describeUrl(url: string): string {
  if (url === 'about:blank' || url === 'about:srcdoc') return url;
  try {
    const parsed = new URL(url);
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:' || parsed.protocol === 'ws:' || parsed.protocol === 'wss:') {
      return `${parsed.protocol}//${parsed.host}${parsed.pathname}`.slice(0, 500);
    }
    // data:, javascript: and blob: carry content in the URL itself: only the scheme is kept.
    return LOCAL_SCHEMES.has(parsed.protocol) ? `${parsed.protocol}${parsed.host ? `//${parsed.host}` : ''}${parsed.pathname}`.slice(0, 200) : parsed.protocol;
  } catch {
    return '(unparsable URL)';
  }
}
