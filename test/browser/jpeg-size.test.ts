import { describe, expect, it } from 'vitest';
import { isPictureOfPage, jpegSize } from '../../src/browser/jpeg-size.js';

// Headers as a JPEG encoder lays them out: start of image, segments with their lengths, the frame header (SOFn) with
// height then width, and the start of scan. Real screencast pictures are checked in live.test.ts.
const segment = (marker: number, body: Buffer) => Buffer.concat([Buffer.from([0xff, marker]), u16(body.length + 2), body]);
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const frameHeader = (marker: number, width: number, height: number) => segment(marker, Buffer.concat([Buffer.from([8]), u16(height), u16(width), Buffer.from([3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1])]));
const jpeg = (...parts: Buffer[]) => Buffer.concat([Buffer.from([0xff, 0xd8]), ...parts, Buffer.from([0xff, 0xda, 0, 2, 0xff, 0xd9])]).toString('base64');
const app0 = segment(0xe0, Buffer.from('JFIF\0\x01\x01\0\0\x01\0\x01\0\0', 'latin1'));
const tables = segment(0xdb, Buffer.alloc(65, 1));
const huffman = segment(0xc4, Buffer.alloc(30, 2));

describe('jpegSize', () => {
  it('reads the width and height of a baseline and a progressive frame header, after other segments', () => {
    expect(jpegSize(jpeg(app0, tables, frameHeader(0xc0, 1000, 660), huffman))).toEqual({ width: 1000, height: 660 });
    expect(jpegSize(jpeg(app0, tables, huffman, frameHeader(0xc2, 1280, 720)))).toEqual({ width: 1280, height: 720 });
  });

  it('skips fill bytes and does not take a Huffman table (C4) for a frame header', () => {
    expect(jpegSize(jpeg(huffman, Buffer.from([0xff, 0xff]), frameHeader(0xc1, 16, 9)))).toEqual({ width: 16, height: 9 });
  });

  it('answers null for what it cannot read: not a JPEG, no frame header before the scan, a header past the limit, truncated, zero size', () => {
    expect(jpegSize(Buffer.from('GIF89a....').toString('base64'))).toBeNull();
    expect(jpegSize(jpeg(app0, tables))).toBeNull();
    expect(jpegSize(jpeg(segment(0xe1, Buffer.alloc(5000)), frameHeader(0xc0, 10, 10)))).toBeNull();
    expect(jpegSize(jpeg(app0, frameHeader(0xc0, 1000, 660)).slice(0, 32))).toBeNull();
    expect(jpegSize(jpeg(frameHeader(0xc0, 0, 660)))).toBeNull();
    expect(jpegSize('')).toBeNull();
    expect(jpegSize('not base64 at all!')).toBeNull();
  });

  it('tells a picture of the page, scaled and rounded, from a picture of another page size', () => {
    expect(isPictureOfPage({ width: 1000, height: 660 }, { width: 1000, height: 660 })).toBe(true);
    expect(isPictureOfPage({ width: 640, height: 360 }, { width: 1280, height: 720 })).toBe(true);
    expect(isPictureOfPage({ width: 640, height: 361 }, { width: 1281, height: 720 })).toBe(true);
    // 1000x563: the old 1280x720 page, reported as 1000x660 right after a resize.
    expect(isPictureOfPage({ width: 1000, height: 563 }, { width: 1000, height: 660 })).toBe(false);
    expect(isPictureOfPage({ width: 900, height: 613 }, { width: 900, height: 700 })).toBe(false);
  });
});
