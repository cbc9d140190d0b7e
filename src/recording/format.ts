import type { ChunkRecord, RecordingEvent } from './types.js';

/** `WAREC`, version 1, newline: the first 7 bytes of every chunk file. */
export const CHUNK_MAGIC = Buffer.from([0x57, 0x41, 0x52, 0x45, 0x43, 0x01, 0x0a]);

const KIND_FRAME = 1;
const KIND_EVENT = 2;
/** u8 kind + u32 t. */
const BODY_HEAD = 5;
/** u16 width + u16 height. */
const FRAME_HEAD = 4;
const MAX_T = 0xffff_ffff;
const MAX_SIDE = 0xffff;

/**
 * Writes records as one chunk file: the magic, then per record a u32 BE body
 * length and the body (u8 kind, u32 BE t, then the frame's u16 BE width and
 * height and JPEG bytes, or the event's UTF-8 JSON without `t`).
 */
export function encodeChunk(records: readonly ChunkRecord[]): Buffer {
  const parts: Buffer[] = [CHUNK_MAGIC];
  for (const record of records) {
    const t = checkedInt(record.t, MAX_T, 't');
    if (record.kind === 'frame') {
      const head = Buffer.alloc(4 + BODY_HEAD + FRAME_HEAD);
      head.writeUInt32BE(BODY_HEAD + FRAME_HEAD + record.jpeg.length, 0);
      head.writeUInt8(KIND_FRAME, 4);
      head.writeUInt32BE(t, 5);
      head.writeUInt16BE(checkedInt(record.width, MAX_SIDE, 'width'), 9);
      head.writeUInt16BE(checkedInt(record.height, MAX_SIDE, 'height'), 11);
      parts.push(head, record.jpeg);
    } else {
      const { t: _t, ...rest } = record.event;
      const json = Buffer.from(JSON.stringify(rest), 'utf8');
      const head = Buffer.alloc(4 + BODY_HEAD);
      head.writeUInt32BE(BODY_HEAD + json.length, 0);
      head.writeUInt8(KIND_EVENT, 4);
      head.writeUInt32BE(t, 5);
      parts.push(head, json);
    }
  }
  return Buffer.concat(parts);
}

/**
 * Reads a chunk file back. Throws a `TypeError` naming the offset for
 * anything that is not a whole, well-formed chunk (wrong magic, a record cut
 * short, an unknown kind, an event that is not a JSON object).
 */
export function decodeChunk(bytes: Buffer): ChunkRecord[] {
  if (bytes.length < CHUNK_MAGIC.length || !bytes.subarray(0, CHUNK_MAGIC.length).equals(CHUNK_MAGIC)) {
    throw new TypeError('not a recording chunk: the file does not start with WAREC version 1');
  }
  const records: ChunkRecord[] = [];
  let at = CHUNK_MAGIC.length;
  while (at < bytes.length) {
    if (bytes.length - at < 4) throw new TypeError(`recording chunk truncated at byte ${at}: record length cut short`);
    const length = bytes.readUInt32BE(at);
    const start = at + 4;
    const end = start + length;
    if (end > bytes.length) throw new TypeError(`recording chunk truncated at byte ${at}: the record needs ${length} bytes, ${bytes.length - start} remain`);
    if (length < BODY_HEAD) throw new TypeError(`recording chunk corrupt at byte ${at}: record of ${length} bytes is too short`);
    records.push(decodeRecord(bytes.subarray(start, end), at));
    at = end;
  }
  return records;
}

function decodeRecord(body: Buffer, at: number): ChunkRecord {
  const kind = body.readUInt8(0);
  const t = body.readUInt32BE(1);
  if (kind === KIND_FRAME) {
    if (body.length < BODY_HEAD + FRAME_HEAD) throw new TypeError(`recording chunk corrupt at byte ${at}: frame record too short`);
    // A copy, so a caller holding one frame does not keep the whole chunk in memory.
    const jpeg = Buffer.from(body.subarray(BODY_HEAD + FRAME_HEAD));
    return { kind: 'frame', t, width: body.readUInt16BE(5), height: body.readUInt16BE(7), jpeg };
  }
  if (kind === KIND_EVENT) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.subarray(BODY_HEAD).toString('utf8'));
    } catch {
      throw new TypeError(`recording chunk corrupt at byte ${at}: event is not valid JSON`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || typeof (parsed as { type?: unknown }).type !== 'string') {
      throw new TypeError(`recording chunk corrupt at byte ${at}: event is not an object with a type`);
    }
    return { kind: 'event', t, event: { ...parsed, t } as RecordingEvent };
  }
  throw new TypeError(`recording chunk corrupt at byte ${at}: unknown record kind ${kind}`);
}

function checkedInt(value: number, max: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`recording chunk: ${name} must be an integer from 0 to ${max}`);
  return value;
}
