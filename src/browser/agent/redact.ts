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
 *
 * Runs of invisible characters and white space between a value's characters ({@link GAP_RUN},
 * in the same forms) do not hide it: a page that prints it with zero-width characters or spaces
 * between its letters would show it to the model (which reads `p&#8203;a s s` as `pass`; the
 * snapshot turns U+FEFF into a space). Such runs are taken out of the text for the search
 * ({@link squeeze}) and what is found is replaced in the text as it was, runs inside included.
 * A pattern with a run allowed between every two characters was 100 times larger and took
 * seconds to compile, for every call. Values that could be torn by taking runs out (a literal
 * `%20`, `&nbsp;`, fewer than four visible characters) are also searched for as they are, first.
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
  const exact: Array<{ length: number; pattern: string }> = [];
  const squeezed: Array<{ length: number; pattern: string }> = seeds.size > 0 ? [...seeds].map((seed) => ({ length: seed.length, pattern: seedForms(seed) })) : [];
  for (const value of values) {
    const visible = [...value].filter((c) => !INVISIBLE_OR_WHITE.test(c));
    if (visible.length < MIN_SECRET_LENGTH || /[%&\\]/.test(value)) exact.push({ length: value.length, pattern: anyForm([...value]) });
    if (visible.length >= MIN_SECRET_LENGTH) squeezed.push({ length: visible.length, pattern: visibleForms(value) });
  }
  const compile = (patterns: Array<{ length: number; pattern: string }>) => (patterns.length === 0 ? null : new RegExp(patterns.sort((a, b) => b.length - a.length).map((p) => p.pattern).join('|'), 'g'));
  const first = compile(exact);
  const second = compile(squeezed);
  return (text) => {
    if (typeof text !== 'string') return text;
    const once = first ? text.replace(first, REDACTED) : text;
    return second ? replaceSqueezed(once, second) : once;
  };
}

/** A short password-field value (under four characters) is hidden where it is a field's whole shown value. */
export function redactShortFieldValues(text: string, pagePasswords: readonly string[]): string {
  const short = new Set(pagePasswords.filter((v) => v.length > 0 && v.length < MIN_SECRET_LENGTH));
  if (short.size === 0) return text;
  return text.replace(/^(\s*- textbox\b[^\n]*\]: )(.*)$/gm, (line, head: string, value: string) => (short.has(value.replace(/^"|"$/g, '')) ? `${head}${REDACTED}` : line));
}

const NAMED: Record<string, string> = { '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos', ' ': 'nbsp' };

/**
 * Characters a reader does not see: soft hyphen, combining grapheme joiner, Arabic letter mark,
 * zero-width space/non-joiner/joiner, direction marks and embeddings, word joiner and invisible
 * operators, isolates and deprecated format characters, variation selectors, the byte order mark.
 */
const INVISIBLE: readonly number[] = [0xad, 0x34f, 0x61c, 0x180e, ...range(0x200b, 0x200f), ...range(0x202a, 0x202e), ...range(0x2060, 0x2064), ...range(0x2066, 0x206f), ...range(0xfe00, 0xfe0f), 0xfeff];
/** White space, as JavaScript's `\\s` has it (U+FEFF is above). */
const WHITE: readonly number[] = [...range(0x09, 0x0d), 0x20, 0x85, 0xa0, 0x1680, ...range(0x2000, 0x200a), 0x2028, 0x2029, 0x202f, 0x205f, 0x3000];
/** Named references HTML decodes to one of them (`&shy` and `&nbsp` also without the semicolon). */
const GAP_NAMES = ['NonBreakingSpace;', 'ZeroWidthSpace;', 'NegativeVeryThinSpace;', 'NegativeThinSpace;', 'NegativeMediumSpace;', 'NegativeThickSpace;', 'zwnj;', 'zwj;', 'lrm;', 'rlm;', 'NoBreak;', 'ApplyFunction;', 'af;', 'InvisibleTimes;', 'it;', 'InvisibleComma;', 'ic;', 'Tab;', 'NewLine;', 'ensp;', 'emsp13;', 'emsp14;', 'emsp;', 'numsp;', 'puncsp;', 'thinsp;', 'ThinSpace;', 'hairsp;', 'VeryThinSpace;', 'MediumSpace;', 'shy;?', 'nbsp;?'];
const RAW_GAP = `[${[...INVISIBLE, ...WHITE].map((c) => `\\u${c.toString(16).padStart(4, '0')}`).join('')}]|\\uDB40[\\uDC00-\\uDC7F]`;
const INVISIBLE_OR_WHITE = new RegExp(`^(?:${RAW_GAP})$`);

/**
 * A run of invisible characters and white space in any of their forms: as is, percent-encoded, as
 * an HTML character reference and JSON-escaped; also Unicode tag characters (U+E0000..E007F,
 * invisible, used to smuggle text to models) as is and percent-encoded. Compiled once; used only
 * through `matchAll`, which copies it, and `replace`, which leaves its `lastIndex` at 0.
 */
const GAP_RUN = ((): RegExp => {
  const codes = [...INVISIBLE, ...WHITE];
  const longestFirst = (a: string, b: string) => b.length - a.length || a.localeCompare(b);
  const percent = codes.map((c) => [...Buffer.from(String.fromCodePoint(c), 'utf8')].map((b) => hexEither(b.toString(16).toUpperCase().padStart(2, '0'))).join('%')).sort(longestFirst);
  const decimal = codes.map(String).sort(longestFirst);
  const hex = codes.map((c) => hexEither(c.toString(16).toUpperCase())).sort(longestFirst);
  const json = codes.map((c) => hexEither(c.toString(16).toUpperCase().padStart(4, '0')));
  const unit = [
    RAW_GAP,
    `%(?:${percent.join('|')}|[Ff]3%[Aa]0%8[01]%[89ABab][0-9A-Fa-f])`,
    `&#(?:0*(?:${decimal.join('|')})|[xX]0*(?:${hex.join('|')}));?`,
    `&(?:${GAP_NAMES.join('|')})`,
    `\\\\u(?:${json.join('|')})`,
  ].join('|');
  return new RegExp(`(?:${unit})+`, 'g');
})();

/**
 * `text` without its runs of {@link GAP_RUN}, and where each of its positions was in `text`: runs
 * are few (a word's space is one), so only the positions right after a run are kept.
 */
function squeeze(text: string): { text: string; original(index: number): number } {
  const at: number[] = [0];
  const shift: number[] = [0];
  let out = '';
  let from = 0;
  for (const run of text.matchAll(GAP_RUN)) {
    out += text.slice(from, run.index);
    from = run.index + run[0].length;
    at.push(out.length);
    shift.push(from - out.length);
  }
  if (at.length === 1) return { text, original: (index) => index };
  out += text.slice(from);
  return {
    text: out,
    original(index) {
      let low = 0;
      let high = at.length - 1;
      while (low < high) {
        const mid = (low + high + 1) >> 1;
        if (at[mid]! <= index) low = mid;
        else high = mid - 1;
      }
      return index + shift[low]!;
    },
  };
}

/**
 * Replaces what `pattern` finds in `text` without its runs, in `text` as it was (runs inside
 * included). Most texts hold no secret: they cost one native replace and one search; where each
 * position came from is worked out only when something is found.
 */
function replaceSqueezed(text: string, pattern: RegExp): string {
  if (text.replace(GAP_RUN, '').search(pattern) === -1) return text;
  const squeezed = squeeze(text);
  let out = '';
  let from = 0;
  for (const found of squeezed.text.matchAll(pattern)) {
    if (found[0].length === 0) continue;
    const start = squeezed.original(found.index);
    out += text.slice(from, start) + REDACTED;
    from = squeezed.original(found.index + found[0].length - 1) + 1;
  }
  return from === 0 ? text : out + text.slice(from);
}

/**
 * The rendered text of an element that shows `value` with runs of invisible characters or white
 * space between its letters, in either case (as `getByText` matches a string), for the masks of a
 * screenshot: the DOM's text is decoded, so only the characters as they are. Undefined for a
 * value of fewer than {@link MIN_SECRET_LENGTH} visible characters.
 */
export function shownTextPattern(value: string): RegExp | undefined {
  const visible = [...value].filter((c) => !INVISIBLE_OR_WHITE.test(c));
  if (visible.length < MIN_SECRET_LENGTH) return undefined;
  return new RegExp(visible.map(escapeRegExp).join(`(?:${RAW_GAP})*`), 'i');
}

/** A pattern matching `chars` with each character in any of its encoded forms. */
function anyForm(chars: readonly string[]): string {
  return chars.map(charForms).join('');
}

/**
 * A pattern matching the visible characters of `value` in the text without its runs: where the
 * value had white space, a `+` may stand (a form-encoded space is not a run).
 */
function visibleForms(value: string): string {
  let pattern = '';
  let spaced = false;
  for (const char of value) {
    if (INVISIBLE_OR_WHITE.test(char)) spaced = true;
    else {
      if (spaced && pattern !== '') pattern += '\\+?';
      pattern += charForms(char);
      spaced = false;
    }
  }
  return pattern;
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

/** A seed in either case, grouped by spaces (runs: taken out) or hyphens as authenticator set-up pages show it. */
function seedForms(seed: string): string {
  return [...seed].map((c) => (/[a-z]/i.test(c) ? `[${c.toUpperCase()}${c.toLowerCase()}]` : escapeRegExp(c))).join('-?');
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
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
