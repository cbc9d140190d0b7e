/**
 * What a frame may show once a navigation commits. The route handler never sees most of these
 * (chrome:, devtools:, data:, about: and view-source: are not network requests), so the session
 * checks every committed URL as well and sends a frame that landed on one of them back to about:blank.
 */
const ALWAYS_ALLOWED = new Set(['about:blank', 'about:srcdoc']);

/** Chromium's own error page, shown when a request was blocked: harmless, and sending it away would loop. */
const ERROR_PAGE = 'chrome-error:';

export type SchemeVerdict = { kind: 'web' } | { kind: 'inert' } | { kind: 'blocked'; reason: string };

export function classifyCommittedUrl(url: string): SchemeVerdict {
  if (ALWAYS_ALLOWED.has(url)) return { kind: 'inert' };
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    return { kind: 'blocked', reason: 'unparsable URL' };
  }
  if (protocol === 'http:' || protocol === 'https:') return { kind: 'web' };
  if (protocol === ERROR_PAGE) return { kind: 'inert' };
  // file:, chrome:, chrome-extension:, devtools:, view-source:, javascript:, data:, blob:, filesystem:, about:<other>...
  return { kind: 'blocked', reason: `scheme ${protocol} is not allowed` };
}
