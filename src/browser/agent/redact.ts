import { MIN_SECRET_LENGTH, REDACTED } from '../../core/index.js';
import type { RedactionSource } from '../types.js';

/** Replaces secret values in a string; the one function every string leaving AgentControls passes. */
export type Redact = (text: string) => string;

/**
 * Builds the redaction of one agent call: every value of `source` (UTF-8 text, at least
 * {@link MIN_SECRET_LENGTH} characters) and the page's current password-field values, with
 * `[REDACTED]`. A value is matched character by character in any mix of its forms: as is,
 * percent-encoded (either hex case; `+` for a space), as an HTML character reference (named,
 * decimal or hex) and JSON-escaped, because pages, browsers and URLs encode different characters
 * of the same value (Chromium adds `%27` to a query `encodeURIComponent` left alone). A
 * base32-looking value (a TOTP seed) is also matched without spaces and in either case. Longest
 * first, so a value that contains another is replaced whole. The pattern lives only for the call.
 */
export function buildRedact(source: RedactionSource, pagePasswords: readonly string[] = []): Redact {
  const values = new Set<string>();
  const seeds = new Set<string>();
  const add = (value: string) => {
    if ([...value].length >= MIN_SECRET_LENGTH) values.add(value);
  };
  for (const buffer of source.values()) {
    if (buffer.length === 0) continue;
    const text = buffer.toString('utf8');
    add(text);
    // A seed is shown by portals grouped or in lower case.
    if (/^[A-Za-z2-7 =]+$/.test(text) && text.replace(/[\s=]/g, '').length >= 16) {
      seeds.add(text.replace(/[\s=]/g, ''));
    }
  }
  for (const value of pagePasswords) add(value);
  if (values.size === 0 && seeds.size === 0) return (text) => text;
  const patterns = [...[...seeds].map((seed) => ({ length: seed.length, pattern: seedForms(seed) })), ...[...values].map((value) => ({ length: value.length, pattern: anyForm(value) }))];
  const pattern = new RegExp(patterns.sort((a, b) => b.length - a.length).map((p) => p.pattern).join('|'), 'g');
  return (text) => (typeof text === 'string' ? text.replace(pattern, REDACTED) : text);
}

/** A short password-field value (under four characters) is hidden where it is a field's whole shown value. */
export function redactShortFieldValues(text: string, pagePasswords: readonly string[]): string {
  const short = new Set(pagePasswords.filter((v) => v.length > 0 && v.length < MIN_SECRET_LENGTH));
  if (short.size === 0) return text;
  return text.replace(/^(\s*- textbox\b[^\n]*\]: )(.*)$/gm, (line, head: string, value: string) => (short.has(value.replace(/^"|"$/g, '')) ? `${head}${REDACTED}` : line));
}

const NAMED: Record<string, string> = { '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos', ' ': 'nbsp' };

/** A pattern matching `value` with each character in any of its encoded forms. */
function anyForm(value: string): string {
  return [...value].map(charForms).join('');
}

function charForms(char: string): string {
  const code = char.codePointAt(0)!;
  const forms = [escapeRegExp(char)];
  const bytes = [...Buffer.from(char, 'utf8')].map((b) => `%${hexEither(b.toString(16).toUpperCase().padStart(2, '0'))}`).join('');
  forms.push(bytes);
  if (char === ' ') forms.push('\\+');
  if (!/[A-Za-z0-9]/.test(char)) {
    forms.push(`&#0*${code};?`, `&#[xX]0*${hexEither(code.toString(16).toUpperCase())};?`);
    if (NAMED[char]) forms.push(`&${NAMED[char]};`);
    if (char === "'") forms.push('&#39;');
    if (code <= 0xffff) forms.push(`\\\\u${hexEither(code.toString(16).toUpperCase().padStart(4, '0'))}`);
    if (char === '"' || char === '\\' || char === '/') forms.push(`\\\\${escapeRegExp(char)}`);
  }
  return forms.length === 1 ? forms[0]! : `(?:${forms.join('|')})`;
}

/** A seed in either case, grouped by spaces or hyphens as authenticator set-up pages show it. */
function seedForms(seed: string): string {
  return [...seed].map((c) => (/[a-z]/i.test(c) ? `[${c.toUpperCase()}${c.toLowerCase()}]` : escapeRegExp(c))).join('[\\s-]?');
}

/** Hex digits that match in either case: `C3` -> `[Cc]3`. */
function hexEither(hex: string): string {
  return hex.replace(/[A-F]/g, (d) => `[${d}${d.toLowerCase()}]`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The same redaction for text that leaves elsewhere (a recording's tool summary): the source's values only. */
export function redactAgentText(source: RedactionSource, text: string): string {
  return buildRedact(source)(text);
}
