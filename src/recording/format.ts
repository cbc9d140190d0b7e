import type { ChunkRecord } from './types.js';

/** `WAREC`, version 1, newline: the first 7 bytes of every chunk file. */
export const CHUNK_MAGIC = Buffer.from([0x57, 0x41, 0x52, 0x45, 0x43, 0x01, 0x0a]);

export function encodeChunk(records: readonly ChunkRecord[]): Buffer {
  void records;
  throw new Error('not implemented');
}

export function decodeChunk(bytes: Buffer): ChunkRecord[] {
  void bytes;
  throw new Error('not implemented');
}
