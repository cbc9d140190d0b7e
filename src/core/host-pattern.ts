/**
 * Host names as rules name them: `app.example.com` (that host only) or
 * `*.example.com` (exactly one more label, like a TLS wildcard: `a.example.com`
 * but neither `example.com` nor `a.b.example.com`). Compared in lowercase,
 * without a port and without a trailing dot.
 */
export interface HostPattern {
  /** As written in the config (lowercased), for messages and audit details. */
  text: string;
  /** The exact host, or the suffix `.example.com` for a wildcard. */
  exact: string | undefined;
  suffix: string | undefined;
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** True when `text` is a host pattern this module accepts (checked once, at config load). */
export function isHostPattern(text: string): boolean {
  const lower = text.toLowerCase();
  const name = lower.startsWith('*.') ? lower.slice(2) : lower;
  // A bare `*.com` would cover a whole top-level domain: at least two labels after the wildcard.
  if (lower.startsWith('*.') && name.split('.').length < 2) return false;
  return name.length <= 253 && name.split('.').every((label) => LABEL.test(label));
}

export function compileHostPattern(text: string): HostPattern {
  if (!isHostPattern(text)) throw new TypeError(`not a host pattern: ${JSON.stringify(text)}`);
  const lower = text.toLowerCase();
  return lower.startsWith('*.') ? { text: lower, exact: undefined, suffix: lower.slice(1) } : { text: lower, exact: lower, suffix: undefined };
}

/**
 * The host part of a Host / X-Forwarded-Host value, lowercased, port and
 * trailing dot removed; undefined when it is not a plain DNS name or IP
 * (userinfo, paths, spaces and other tricks are refused, not cleaned).
 */
export function normalizeHost(value: string | undefined): string | undefined {
  if (!value || value.length > 260) return undefined;
  let host = value.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end === -1 || !/^(:\d{1,5})?$/.test(host.slice(end + 1))) return undefined;
    host = host.slice(0, end + 1);
    return /^\[[0-9a-f:.]+\]$/.test(host) ? host : undefined;
  }
  host = host.replace(/:\d{1,5}$/, '').replace(/\.$/, '');
  if (host === '' || !host.split('.').every((label) => LABEL.test(label))) return undefined;
  return host;
}

/** Whether a normalized host matches the pattern. */
export function hostMatches(pattern: HostPattern, host: string): boolean {
  if (pattern.exact !== undefined) return pattern.exact === host;
  const suffix = pattern.suffix!;
  return host.length > suffix.length && host.endsWith(suffix) && !host.slice(0, -suffix.length).includes('.');
}
