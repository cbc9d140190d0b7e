import { MIN_SECRET_LENGTH, REDACTED } from '../../core/index.js';
import type { RedactionSource } from '../types.js';

/** Replaces secret values in a string; the one function every string leaving AgentControls passes. */
export type Redact = (text: string) => string;

/**
 * Builds the redaction of one agent call: every value of `source` (UTF-8 text, at least
 * {@link MIN_SECRET_LENGTH} characters) and the page's current password-field values, each also
 * URL-encoded (both encodings), form-encoded, HTML-escaped (named and numeric), JSON-escaped, and
 * for a base32-looking value (a TOTP seed) without spaces and in either case. Longest first, so a
 * value that contains another is replaced whole. The strings live only for the call.
 */
export function buildRedact(source: RedactionSource, pagePasswords: readonly string[] = []): Redact {
  const variants = new Set<string>();
  const add = (value: string) => {
    for (const v of forms(value)) if (v.length >= MIN_SECRET_LENGTH) variants.add(v);
  };
  for (const buffer of source.values()) {
    if (buffer.length === 0) continue;
    const text = buffer.toString('utf8');
    add(text);
    // A seed is shown by portals grouped or in lower case.
    if (/^[A-Za-z2-7 =]+$/.test(text) && text.replace(/[\s=]/g, '').length >= 16) {
      const bare = text.replace(/[\s=]/g, '');
      add(bare.toUpperCase());
      add(bare.toLowerCase());
    }
  }
  for (const value of pagePasswords) add(value);
  if (variants.size === 0) return (text) => text;
  const pattern = new RegExp([...variants].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|'), 'g');
  return (text) => (typeof text === 'string' ? text.replace(pattern, REDACTED) : text);
}

/** A short password-field value (under four characters) is hidden where it is a field's whole shown value. */
export function redactShortFieldValues(text: string, pagePasswords: readonly string[]): string {
  const short = new Set(pagePasswords.filter((v) => v.length > 0 && v.length < MIN_SECRET_LENGTH));
  if (short.size === 0) return text;
  return text.replace(/^(\s*- textbox\b[^\n]*\]: )(.*)$/gm, (line, head: string, value: string) => (short.has(value.replace(/^"|"$/g, '')) ? `${head}${REDACTED}` : line));
}

function forms(value: string): string[] {
  const out = [value];
  try {
    out.push(encodeURIComponent(value), encodeURI(value), new URLSearchParams({ v: value }).toString().slice(2));
  } catch {
    // A lone surrogate cannot be URL-encoded: the other forms still apply.
  }
  out.push(
    value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!),
    value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`),
    JSON.stringify(value).slice(1, -1),
  );
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The same redaction for text that leaves elsewhere (a recording's tool summary): the source's values only. */
export function redactAgentText(source: RedactionSource, text: string): string {
  return buildRedact(source)(text);
}
