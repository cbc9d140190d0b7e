import { describe, expect, it } from 'vitest';
import { CHUNK_MAGIC, decodeChunk, encodeChunk, type ChunkRecord } from '../../src/recording/index.js';

const jpeg = (n: number) => Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(n, n % 251), Buffer.from([0xff, 0xd9])]);

const records: ChunkRecord[] = [
  { kind: 'event', t: 0, event: { t: 0, type: 'state', state: 'starting' } },
  { kind: 'frame', t: 10, width: 1280, height: 720, jpeg: jpeg(100) },
  { kind: 'event', t: 15, event: { t: 15, type: 'navigated', tabId: 'tab-1', url: 'https://bank.example/accounts?x=ü', title: 'Konten – Übersicht ✓' } },
  { kind: 'event', t: 20, event: { t: 20, type: 'keys', target: 'input[name=amount]', field: 'text', count: 3 } },
  { kind: 'frame', t: 4_000_000_000, width: 65535, height: 0, jpeg: jpeg(0) },
];

describe('chunk format', () => {
  it('starts with WAREC\\x01\\n and round-trips frames and events', () => {
    const bytes = encodeChunk(records);
    expect(bytes.subarray(0, 7)).toEqual(Buffer.from('WAREC\x01\n', 'latin1'));
    expect(CHUNK_MAGIC.length).toBe(7);
    expect(decodeChunk(bytes)).toEqual(records);
  });

  it('writes the record layout of the contract (u32 length, u8 kind, u32 t, u16 w, u16 h, JPEG)', () => {
    const frame = jpeg(3);
    const bytes = encodeChunk([{ kind: 'frame', t: 258, width: 800, height: 600, jpeg: frame }]);
    expect(bytes.readUInt32BE(7)).toBe(1 + 4 + 4 + frame.length);
    expect(bytes.readUInt8(11)).toBe(1);
    expect(bytes.readUInt32BE(12)).toBe(258);
    expect(bytes.readUInt16BE(16)).toBe(800);
    expect(bytes.readUInt16BE(18)).toBe(600);
    expect(bytes.subarray(20)).toEqual(frame);
    const event = encodeChunk([{ kind: 'event', t: 5, event: { t: 5, type: 'clipboard', direction: 'copy', chars: 4 } }]);
    expect(event.readUInt8(11)).toBe(2);
    expect(JSON.parse(event.subarray(16).toString('utf8'))).toEqual({ type: 'clipboard', direction: 'copy', chars: 4 });
  });

  it('an empty chunk is just the magic', () => {
    expect(encodeChunk([])).toEqual(CHUNK_MAGIC);
    expect(decodeChunk(CHUNK_MAGIC)).toEqual([]);
  });

  it('refuses input that is not a chunk, with a clear error', () => {
    expect(() => decodeChunk(Buffer.from('GIF89a...'))).toThrow(/not a recording chunk/);
    expect(() => decodeChunk(Buffer.alloc(0))).toThrow(/not a recording chunk/);
    expect(() => decodeChunk(Buffer.from('WAREC\x02\n', 'latin1'))).toThrow(/version 1/);
  });

  it('refuses a chunk cut anywhere inside a record', () => {
    const bytes = encodeChunk(records);
    for (const cut of [8, 10, 11, 20, bytes.length - 1]) {
      expect(() => decodeChunk(bytes.subarray(0, cut)), `cut at ${cut}`).toThrow(/truncated|corrupt/);
    }
  });

  it('refuses corrupt records: unknown kind, short frame, bad JSON, JSON that is not an event', () => {
    const head = (length: number, kind: number) => {
      const b = Buffer.alloc(9);
      b.writeUInt32BE(length, 0);
      b.writeUInt8(kind, 4);
      return b;
    };
    expect(() => decodeChunk(Buffer.concat([CHUNK_MAGIC, head(5, 9)]))).toThrow(/unknown record kind 9/);
    expect(() => decodeChunk(Buffer.concat([CHUNK_MAGIC, head(6, 1), Buffer.alloc(1)]))).toThrow(/frame record too short/);
    expect(() => decodeChunk(Buffer.concat([CHUNK_MAGIC, head(7, 2), Buffer.from('{x')]))).toThrow(/not valid JSON/);
    expect(() => decodeChunk(Buffer.concat([CHUNK_MAGIC, head(7, 2), Buffer.from('[]')]))).toThrow(/not an object with a type/);
    expect(() => decodeChunk(Buffer.concat([CHUNK_MAGIC, head(3, 2)]))).toThrow(/too short/);
  });

  it('refuses to write values the layout cannot hold', () => {
    expect(() => encodeChunk([{ kind: 'frame', t: -1, width: 1, height: 1, jpeg: jpeg(1) }])).toThrow(RangeError);
    expect(() => encodeChunk([{ kind: 'frame', t: 1, width: 70_000, height: 1, jpeg: jpeg(1) }])).toThrow(RangeError);
    expect(() => encodeChunk([{ kind: 'frame', t: 1.5, width: 1, height: 1, jpeg: jpeg(1) }])).toThrow(RangeError);
  });
});
