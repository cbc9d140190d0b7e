import type { RecordedFrame } from '../../recording/index.js';

/** Bytes before a frame's JPEG in the replay stream: u32 JPEG length, u32 t, u16 width, u16 height (all big-endian). */
export const FRAME_HEADER_BYTES = 12;

/**
 * One frame of `GET /api/recordings/:id/frames`, as docs/api.md describes it.
 * Length-prefixed binary rather than JSON: a JPEG goes out as it is stored, and
 * a reader can skip a frame without decoding it.
 */
export function encodeFrameRecord(frame: RecordedFrame): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32BE(frame.jpeg.length, 0);
  header.writeUInt32BE(frame.t, 4);
  header.writeUInt16BE(frame.width, 8);
  header.writeUInt16BE(frame.height, 10);
  return Buffer.concat([header, frame.jpeg]);
}
