import { MIN_SECRET_LENGTH, REDACTED } from '../../core/index.js';
import type { RedactionCache, RedactionSource } from '../types.js';

/** Replaces secret values in a string; the one function every string leaving AgentControls passes. */
export type Redact = (text: string) => string;

/**
 * A value of at least this many characters is also found transformed: in another letter case,
 * reversed, as base64 or base64url (alone or inside a longer run) and as hex. A shorter one (a
 * four-letter username, a PIN) would turn up by chance in ordinary text or in any long base64
 * run; it is found only as it is (see {@link MIN_SECRET_LENGTH}, {@link redactShortFieldValues}).
 */
export const TRANSFORM_MIN_LENGTH = 6;

/**
 * Builds the redaction of one agent call: every value of `source` (UTF-8 text, at least
 * {@link MIN_SECRET_LENGTH} characters) and the page's current password-field values, with
 * `[REDACTED]`. A value is matched character by character in any mix of its forms: as is,
 * percent-encoded (either hex case; `+` for a space), as an HTML character reference (named,
 * decimal or hex) and JSON-escaped, because pages, browsers and URLs encode different characters
 * of the same value (Chromium adds `%27` to a query `encodeURIComponent` left alone). A
 * base32-looking value (a TOTP seed) is also matched without spaces and in either case. Longest
 * first, so a value that contains another is replaced whole.
 *
 * A value of {@link TRANSFORM_MIN_LENGTH} characters or more is also matched in any letter case
 * and reversed (both in all the forms above), and as base64, base64url or hex of its UTF-8 bytes
 * ({@link transformedForms}): a page can print a value it holds in any of these without effort.
 *
 * Runs of invisible characters and white space between a value's characters ({@link GAP_RUN},
 * in the same forms) do not hide it: a page that prints it with zero-width characters or spaces
 * between its letters would show it to the model (which reads `p&#8203;a s s` as `pass`; the
 * snapshot turns U+FEFF into a space). Such runs are taken out of the text for the search
 * ({@link squeeze}) and what is found is replaced in the text as it was, runs inside included.
 * A pattern with a run allowed between every two characters was 100 times larger and took
 * seconds to compile, for every call. Values that could be torn by taking runs out (a literal
 * `%20`, `&nbsp;`, fewer than four visible characters) are also searched for as they are, first.
 *
 * The patterns of the credential's values are made once per credential ({@link credentialPatterns});
 * only a page's password value that is not one of them makes a call compile its own.
 */
export function buildRedact(source: RedactionSource, pagePasswords: readonly string[] = []): Redact {
  const buffers = source.values();
  const texts = buffers.filter((b) => b.length > 0).map((b) => b.toString('utf8'));
  const extra = pagePasswords.filter((v) => [...v].length >= MIN_SECRET_LENGTH && !texts.includes(v));
  const patterns = extra.length === 0 ? credentialPatterns(source.compiled, texts) : compile([...texts, ...extra], texts);
  if (!patterns.exact && !patterns.squeezed && !patterns.encoded) return (text) => text;
  return (text) => {
    if (typeof text !== 'string') return text;
    const once = patterns.exact ? text.replace(patterns.exact, REDACTED) : text;
    const twice = patterns.squeezed ? replaceSqueezed(once, patterns.squeezed) : once;
    return patterns.encoded ? replaceEncoded(twice, patterns.encoded) : twice;
  };
}

/** The three passes of a redaction: values as they are (with their forms), then without runs, then encoded. */
interface Patterns {
  exact: RegExp | null;
  squeezed: RegExp | null;
  encoded: RegExp | null;
}

/**
 * The patterns of a credential, kept in its source's cache (one per session, cleared when the
 * session's end wipes the values) for as long as the values read the same: every snapshot and
 * result is redacted, and the patterns are large. Without a cache they are compiled every time.
 */
function credentialPatterns(cache: RedactionCache | undefined, texts: readonly string[]): Patterns {
  const kept = cache?.entry as { texts: readonly string[]; patterns: Patterns } | undefined;
  if (kept && kept.texts.length === texts.length && kept.texts.every((t, i) => t === texts[i])) return kept.patterns;
  const patterns = compile(texts, texts);
  if (cache) cache.entry = { texts, patterns };
  return patterns;
}

/** The patterns of `values`; `credential` (the vault's values among them) may hold a TOTP seed. */
function compile(values: readonly string[], credential: readonly string[]): Patterns {
  const seeds = new Set<string>();
  // A seed is shown by portals grouped or in lower case.
  for (const text of credential) if (/^[A-Za-z2-7 =]+$/.test(text) && text.replace(/[\s=]/g, '').length >= 16) seeds.add(text.replace(/[\s=]/g, ''));
  const exact: Array<{ length: number; pattern: string }> = [];
  const squeezed = [...seeds].map((seed) => ({ length: seed.length, pattern: seedForms(seed) }));
  const encoded: Array<{ length: number; pattern: string }> = [];
  for (const value of new Set(values)) {
    if ([...value].length < MIN_SECRET_LENGTH) continue;
    const transformed = transformedForms(value);
    const fold = transformed !== undefined;
    for (const form of transformed?.reversed === undefined ? [value] : [value, transformed.reversed]) {
      const visible = [...form].filter((c) => !INVISIBLE_OR_WHITE.test(c));
      if (visible.length < MIN_SECRET_LENGTH || /[%&\\]/.test(form)) exact.push({ length: form.length, pattern: anyForm([...form], fold) });
      if (visible.length >= MIN_SECRET_LENGTH) squeezed.push({ length: visible.length, pattern: visibleForms(form, fold) });
    }
    if (transformed) {
      for (const needle of transformed.base64) encoded.push({ length: needle.length, pattern: base64Form(needle) });
      encoded.push({ length: transformed.hex.length, pattern: hexEither(transformed.hex.toUpperCase()) });
    }
  }
  const combined = (patterns: Array<{ length: number; pattern: string }>) =>
    patterns.length === 0 ? null : new RegExp([...new Set(patterns.sort((a, b) => b.length - a.length).map((p) => p.pattern))].join('|'), 'g');
  return { exact: combined(exact), squeezed: combined(squeezed), encoded: combined(encoded) };
}

/** The forms of a long value that are not character-by-character encodings of it (see {@link TRANSFORM_MIN_LENGTH}). */
export interface TransformedForms {
  /** The value's characters in reverse order; undefined for a palindrome. */
  reversed: string | undefined;
  /**
   * What the value's base64 and base64url always hold, wherever the value sits in a longer
   * encoded text: for each of the three alignments (0, 1 or 2 bytes before it), the characters
   * whose six bits all come from the value (the ones at its edges mix in its neighbours' bits).
   */
  base64: string[];
  /** The hex of the value's UTF-8 bytes, lower case (matched in either case). */
  hex: string;
}

/** The needles of {@link TransformedForms} for `value`; undefined when it is shorter than {@link TRANSFORM_MIN_LENGTH}. */
export function transformedForms(value: string): TransformedForms | undefined {
  const chars = [...value];
  if (chars.length < TRANSFORM_MIN_LENGTH) return undefined;
  const bytes = Buffer.from(value, 'utf8');
  const base64 = new Set<string>();
  for (let before = 0; before < 3; before++) {
    const encoded = Buffer.concat([Buffer.alloc(before), bytes]).toString('base64');
    const inner = encoded.slice(Math.ceil((8 * before) / 6), Math.floor((8 * (before + bytes.length)) / 6));
    base64.add(inner);
    base64.add(inner.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  const reversed = chars.reverse().join('');
  return { reversed: reversed === value ? undefined : reversed, base64: [...base64], hex: bytes.toString('hex') };
}

/** A base64 needle as it stands in text: its `+` and `/` also percent-encoded (a query string's). */
function base64Form(needle: string): string {
  return escapeRegExp(needle).replace(/\\\+/g, '(?:\\+|%2[Bb])').replace(/\//g, '(?:/|%2[Ff])');
}

/**
 * Replaces each run of base64 characters (`+` and `/` also percent-encoded, `=` at its end) that
 * holds what `pattern` finds, whole: the characters at the needle's edges carry some of the
 * value's bits too, and a hex needle's run is a blob of the same kind. Each run is looked at once,
 * from where the last one ended: linear in the text.
 */
function replaceEncoded(text: string, pattern: RegExp): string {
  let out = '';
  let from = 0;
  pattern.lastIndex = 0;
  for (let found = pattern.exec(text); found !== null; found = pattern.exec(text)) {
    let start = found.index;
    for (let step = base64At(text, start, -1); step > 0 && start - step >= from; step = base64At(text, start, -1)) start -= step;
    let end = found.index + found[0].length;
    for (let step = base64At(text, end, 1); step > 0; step = base64At(text, end, 1)) end += step;
    for (let pad = 0; pad < 2 && /^(?:=|%3[Dd])/.test(text.slice(end, end + 3)); pad++) end += text[end] === '=' ? 1 : 3;
    out += text.slice(from, start) + REDACTED;
    from = end;
    pattern.lastIndex = end;
  }
  pattern.lastIndex = 0;
  return from === 0 ? text : out + text.slice(from);
}

/** How many characters the base64 character just before (`direction` -1) or at (1) `index` takes: 1, 3 (`%2B`, `%2F`) or 0 (none). */
function base64At(text: string, index: number, direction: -1 | 1): number {
  const one = direction === 1 ? text[index] : text[index - 1];
  if (one !== undefined && BASE64_CHAR.test(one)) return 1;
  const three = direction === 1 ? text.slice(index, index + 3) : text.slice(Math.max(0, index - 3), index);
  return /^%2[BbFf]$/.test(three) ? 3 : 0;
}

const BASE64_CHAR = /^[A-Za-z0-9+/_-]$/;

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

/**
 * The rendered text of an element that shows `value` transformed ({@link transformedForms}:
 * reversed, with runs between its letters as {@link shownTextPattern} has them, or its base64,
 * base64url or hex), in either case, for the masks of a screenshot. Undefined for a value under
 * {@link TRANSFORM_MIN_LENGTH} characters.
 */
export function transformedTextPattern(value: string): RegExp | undefined {
  const forms = transformedForms(value);
  if (!forms) return undefined;
  const reversed = forms.reversed === undefined ? [] : [shownTextPattern(forms.reversed)?.source ?? escapeRegExp(forms.reversed)];
  return new RegExp([...reversed, ...forms.base64.map(escapeRegExp), forms.hex].join('|'), 'i');
}

/** A pattern matching `chars` with each character in any of its encoded forms (with `fold`, in either case). */
function anyForm(chars: readonly string[], fold: boolean): string {
  return chars.map((c) => charForms(c, fold)).join('');
}

/**
 * A pattern matching the visible characters of `value` in the text without its runs: where the
 * value had white space, a `+` may stand (a form-encoded space is not a run).
 */
function visibleForms(value: string, fold: boolean): string {
  let pattern = '';
  let spaced = false;
  for (const char of value) {
    if (INVISIBLE_OR_WHITE.test(char)) spaced = true;
    else {
      if (spaced && pattern !== '') pattern += '\\+?';
      pattern += charForms(char, fold);
      spaced = false;
    }
  }
  return pattern;
}

/** `char` in each of its forms; with `fold`, those of its other case too (where that is one character). */
function charForms(char: string, fold: boolean): string {
  const cases = fold ? new Set([char, char.toLowerCase(), char.toUpperCase()].filter((c) => [...c].length === 1)) : new Set([char]);
  const forms = new Set<string>();
  for (const one of cases) for (const form of oneCaseForms(one)) forms.add(form);
  const all = [...forms];
  return all.length === 1 ? all[0]! : `(?:${all.join('|')})`;
}

function oneCaseForms(char: string): string[] {
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
  return forms;
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
