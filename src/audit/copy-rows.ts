import { hash as digestOnce } from 'node:crypto';
import { createIsoTime } from './chain.js';
import type { ChainChecker } from './chain-checker.js';
import type { ChainedEvent } from './event.js';

/**
 * The columns of `audit_events` in the order {@link CopyRowChecker} reads
 * them from COPY text: the order of the keys of the canonical text
 * (`canonicalEventText` in chain.ts), so that one pass over a row writes it, with
 * target id before target kind, and the two hashes last.
 */
export const COPY_EVENT_COLUMNS =
  'action, actor_id, actor_kind, actor_name, details, event_id, node_id, outcome, request_id, seq, ' +
  'source_ip, target_id, target_kind, time_ms, user_agent, prev_hash, hash';

const FIELDS = 17;
const NEWLINE = 0x0a;

/** Rows of COPY text format in {@link COPY_EVENT_COLUMNS} order, each ended by a newline (one inside a value is always escaped). */
export function parseRows(text: string): ChainedEvent[] {
  const events: ChainedEvent[] = [];
  const f: string[] = new Array<string>(FIELDS);
  let pos = 0;
  while (pos < text.length) {
    const eol = text.indexOf('\n', pos);
    if (eol === -1) throw new Error('COPY row without its newline');
    for (let i = 0; i < FIELDS - 1; i++) {
      const tab = text.indexOf('\t', pos);
      if (tab === -1 || tab > eol) throw new Error(`COPY row with ${i + 1} fields, expected ${FIELDS}`);
      f[i] = text.slice(pos, tab);
      pos = tab + 1;
    }
    const last = text.slice(pos, eol);
    if (last.includes('\t')) throw new Error(`COPY row with more than ${FIELDS} fields`);
    f[FIELDS - 1] = last;
    pos = eol + 1;
    events.push({
      action: value(f[0]!),
      actorId: value(f[1]!),
      actorKind: value(f[2]!) as ChainedEvent['actorKind'],
      actorName: decodeField(f[3]!),
      details: value(f[4]!),
      id: value(f[5]!),
      nodeId: value(f[6]!),
      outcome: value(f[7]!) as ChainedEvent['outcome'],
      requestId: decodeField(f[8]!),
      seq: int(f[9]!),
      sourceIp: decodeField(f[10]!),
      targetId: decodeField(f[11]!),
      targetKind: decodeField(f[12]!),
      timeMs: int(f[13]!),
      userAgent: decodeField(f[14]!),
      prevHash: value(f[15]!),
      hash: value(f[16]!),
    });
  }
  return events;
}

/** One field of COPY text format: `\N` is null, anything else is unescaped. */
export function decodeField(field: string): string | null {
  if (field === '\\N') return null;
  return field.includes('\\') ? unescapeCopyText(field) : field;
}

function value(field: string): string {
  const decoded = decodeField(field);
  if (decoded === null) throw new Error('COPY row has null in a column that is NOT NULL');
  return decoded;
}

function int(field: string): number {
  const n = Number(field);
  if (!Number.isSafeInteger(n) || field.length === 0) throw new Error(`COPY row has ${JSON.stringify(field)} for an integer column`);
  return n;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/**
 * The backslash sequences of COPY text format (PostgreSQL docs, COPY, "Text
 * Format"): `\b \f \n \r \t \v`, `\ooo` octal and `\xHH` hex bytes (which may
 * together spell one UTF-8 character), and a backslash before any other
 * character stands for that character (`\\` is a backslash).
 */
export function unescapeCopyText(field: string): string {
  let out = '';
  let bytes: number[] | null = null;
  let from = 0;
  let i = field.indexOf('\\');
  const flushBytes = () => {
    if (bytes) out += Buffer.from(bytes).toString('utf8');
    bytes = null;
  };
  while (i !== -1) {
    if (i > from) {
      flushBytes();
      out += field.slice(from, i);
    }
    const c = field[i + 1];
    if (c === undefined) throw new Error('COPY field ends with a lone backslash');
    let next = i + 2;
    const octal = /^[0-7]{1,3}/.exec(field.slice(i + 1, i + 4));
    const hex = c === 'x' ? /^[0-9a-fA-F]{1,2}/.exec(field.slice(i + 2, i + 4)) : null;
    if (octal || hex) {
      const digits = (octal ?? hex)![0];
      (bytes ??= []).push(Number.parseInt(digits, octal ? 8 : 16) & 0xff);
      next = i + 1 + (octal ? 0 : 1) + digits.length;
    } else {
      flushBytes();
      out += SIMPLE_ESCAPES[c] ?? c;
    }
    from = next;
    i = field.indexOf('\\', from);
  }
  flushBytes();
  return out + field.slice(from);
}

const TAB = 0x09;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LETTER_N = 0x4e;
const [ORDINARY, DELIMITER, QUOTED, ESCAPED] = [0, 1, 2, 3];
/** What a pass over a row must notice in each byte value: tabs, double quotes, and backslashes or control characters. */
const BYTE_KIND = new Uint8Array(256).map((_, c) => (c === TAB ? DELIMITER : c === QUOTE ? QUOTED : c === BACKSLASH || c < 0x20 ? ESCAPED : ORDINARY));
const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');
/** The canonical text around the fields, in {@link COPY_EVENT_COLUMNS} order. */
const LIT = {
  action: latin1('{"action":"'),
  actorId: latin1('","actor":{"id":"'),
  actorKind: latin1('","kind":"'),
  actorName: latin1('","name":'),
  details: latin1('},"details":'),
  id: latin1(',"id":"'),
  nodeId: latin1('","nodeId":"'),
  outcome: latin1('","outcome":"'),
  requestId: latin1('","requestId":'),
  seq: latin1(',"seq":'),
  sourceIp: latin1(',"sourceIp":'),
  target: latin1(',"target":'),
  targetId: latin1('{"id":"'),
  targetKind: latin1('","kind":"'),
  targetEnd: latin1('"}'),
  time: latin1(',"time":"'),
  userAgent: latin1('","userAgent":'),
  end: latin1('}'),
  null: latin1('null'),
  quote: latin1('"'),
};
/** A row longer than this takes the reference path (the canonical text must fit the scratch buffer). */
const FAST_ROW_MAX = 128 * 1024;

/**
 * Verification straight from COPY text bytes (columns in
 * {@link COPY_EVENT_COLUMNS} order). One pass over each row writes the
 * canonical text of `canonicalEventText` (chain.ts) into a scratch buffer, copying
 * field bytes as they arrived; that is hashed, and seq, links and hashes go to
 * the {@link ChainChecker}. No event object and no strings for the content.
 * A row whose bytes would need escaping in JSON or unescaping from COPY (a
 * quote outside `details`, a backslash other than `\N` for null in a nullable
 * column or a doubled one in `details`, a control character), or an unusual number or hash, takes the
 * reference path instead: decoded to an event and checked by `addEvent`.
 */
export class CopyRowChecker {
  readonly #checker: ChainChecker;
  readonly #scratch = Buffer.allocUnsafe(2 * FAST_ROW_MAX);
  readonly #isoTime = createIsoTime();
  #rest: Buffer | null = null;
  /** The row being read, the next byte to read, and where the next canonical byte goes. */
  #buf: Buffer = Buffer.alloc(0);
  #p = 0;
  #eol = 0;
  #at = 0;

  constructor(checker: ChainChecker) {
    this.#checker = checker;
  }

  /** Checks every row completed by `chunk`; false once the checker has failed. */
  push(chunk: Buffer): boolean {
    const data = this.#rest ? Buffer.concat([this.#rest, chunk]) : chunk;
    const last = data.lastIndexOf(NEWLINE);
    this.#rest = last + 1 < data.length ? data.subarray(last + 1) : null;
    let start = 0;
    while (start <= last) {
      const eol = data.indexOf(NEWLINE, start);
      const ok = eol - start <= FAST_ROW_MAX ? this.#fast(data, start, eol) : undefined;
      if (!(ok ?? this.#checker.addEvent(parseRows(data.toString('utf8', start, eol + 1))[0]!))) return false;
      start = eol + 1;
    }
    return true;
  }

  /** Throws when the stream stopped inside a row. */
  end(): void {
    if (this.#rest) throw new Error(`COPY output ends inside a row (${this.#rest.length} bytes left)`);
  }

  /** The checker's verdict on the row, or undefined when it needs the reference path. */
  #fast(buf: Buffer, start: number, eol: number): boolean | undefined {
    this.#buf = buf;
    this.#p = start;
    this.#eol = eol;
    this.#at = 32;
    if (!(this.#str(LIT.action) && this.#str(LIT.actorId) && this.#str(LIT.actorKind) && this.#opt(LIT.actorName))) return undefined;
    this.#lit(LIT.details);
    if (!(this.#copy(true) && this.#str(LIT.id) && this.#str(LIT.nodeId) && this.#str(LIT.outcome) && this.#opt(LIT.requestId))) return undefined;
    this.#lit(LIT.seq);
    const seqFrom = this.#p;
    if (!this.#copy(false)) return undefined;
    const seq = digits(buf, seqFrom, this.#p - 1);
    if (Number.isNaN(seq) || !this.#opt(LIT.sourceIp)) return undefined;
    // Target: id before kind in the row, as in the text; null (and the id ignored) when the kind is null.
    this.#lit(LIT.target);
    const idFrom = this.#p;
    const idNull = this.#isNull();
    if (!this.#skip()) return undefined;
    const idTo = this.#p - 1;
    if (this.#isNull()) {
      this.#lit(LIT.null);
      if (!this.#skip()) return undefined;
    } else {
      this.#lit(LIT.targetId);
      if (!idNull) this.#copyRange(idFrom, idTo);
      if (!this.#str(LIT.targetKind)) return undefined;
      this.#lit(LIT.targetEnd);
    }
    const timeFrom = this.#p;
    if (!this.#skip()) return undefined;
    const timeMs = digits(buf, timeFrom, this.#p - 1);
    if (Number.isNaN(timeMs)) return undefined;
    this.#lit(LIT.time);
    const s = this.#scratch;
    this.#at += s.write(this.#isoTime(timeMs), this.#at, 'latin1');
    if (!this.#opt(LIT.userAgent)) return undefined;
    this.#lit(LIT.end);
    // Two hashes of 64 hex digits remain.
    const p = this.#p;
    if (eol - p !== 129 || buf[p + 64] !== TAB) return undefined;
    const prevHash = buf.toString('latin1', p, p + 64);
    if (s.write(prevHash, 0, 32, 'hex') !== 32) return undefined;
    const hash = buf.toString('latin1', p + 65, eol);
    return this.#checker.addHashed(seq, prevHash, hash, digestOnce('sha256', s.subarray(0, this.#at), 'hex'));
  }

  #lit(bytes: Uint8Array): void {
    const s = this.#scratch;
    let at = this.#at;
    for (let i = 0; i < bytes.length; i++) s[at++] = bytes[i]!;
    this.#at = at;
  }

  /** `before` (which ends with the opening quote), then a required text field. */
  #str(before: Uint8Array): boolean {
    this.#lit(before);
    return this.#copy(false);
  }

  /** `before`, then a nullable text field as a JSON string with both its quotes, or `null`. */
  #opt(before: Uint8Array): boolean {
    this.#lit(before);
    if (this.#isNull()) {
      this.#lit(LIT.null);
      return this.#skip();
    }
    this.#lit(LIT.quote);
    if (!this.#copy(false)) return false;
    this.#lit(LIT.quote);
    return true;
  }

  /** The field at the read position is `\N`. */
  #isNull(): boolean {
    const b = this.#buf;
    const p = this.#p;
    return b[p] === BACKSLASH && b[p + 1] === LETTER_N && b[p + 2] === TAB;
  }

  /**
   * Copies the field at the read position up to its tab, and moves past the
   * tab. False when the field has a byte that needs escaping or the row ends
   * first. `details` is canonical JSON already: its quotes are copied, and its
   * backslashes (JSON escapes), which COPY doubles, are undoubled.
   */
  #copy(json: boolean): boolean {
    const b = this.#buf;
    const s = this.#scratch;
    const eol = this.#eol;
    let p = this.#p;
    let at = this.#at;
    for (; p < eol; p++) {
      const c = b[p]!;
      const kind = BYTE_KIND[c]!;
      if (kind === ORDINARY) s[at++] = c;
      else if (kind === DELIMITER) break;
      else if (json && kind === QUOTED) s[at++] = c;
      else if (json && c === BACKSLASH && b[p + 1] === BACKSLASH) {
        s[at++] = c;
        p++;
      } else return false;
    }
    this.#p = p + 1;
    this.#at = at;
    return p < eol;
  }

  /** Moves past the field at the read position (`\N` or bytes that need no escaping) without copying it. */
  #skip(): boolean {
    if (this.#isNull()) {
      this.#p += 3;
      return this.#p <= this.#eol;
    }
    const b = this.#buf;
    const eol = this.#eol;
    let p = this.#p;
    for (; p < eol; p++) {
      const kind = BYTE_KIND[b[p]!]!;
      if (kind === DELIMITER) break;
      if (kind !== ORDINARY) return false;
    }
    this.#p = p + 1;
    return p < eol;
  }

  #copyRange(from: number, to: number): void {
    const b = this.#buf;
    const s = this.#scratch;
    let at = this.#at;
    for (let p = from; p < to; p++) s[at++] = b[p]!;
    this.#at = at;
  }
}

/** An integer in PostgreSQL's output form (optional minus, no leading zeros) of at most 15 digits, else NaN. */
function digits(buf: Buffer, from: number, to: number): number {
  const negative = buf[from] === 0x2d;
  let i = negative ? from + 1 : from;
  if (i >= to || to - i > 15 || (buf[i] === 0x30 && (to - i > 1 || negative))) return Number.NaN;
  let n = 0;
  for (; i < to; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return Number.NaN;
    n = n * 10 + d;
  }
  return negative ? -n : n;
}
