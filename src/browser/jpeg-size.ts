/**
 * The pixel size a JPEG declares in its frame header (SOFn), read from the start of its base64 text
 * without decoding the rest, or null when the header is not within the first few kilobytes or the data is
 * not a JPEG. Chromium's screencast frames put it after the quantization and Huffman tables (under 1 kB).
 */
export function jpegSize(base64: string, maxHeaderBytes = 4096): { width: number; height: number } | null {
  // 4 base64 characters per 3 bytes: a prefix of whole groups decodes exactly.
  const bytes = Buffer.from(base64.slice(0, Math.ceil(maxHeaderBytes / 3) * 4), 'base64');
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1]!;
    // Fill bytes before a marker.
    if (marker === 0xff) {
      at += 1;
      continue;
    }
    // Start of scan, end of image: no frame header came first.
    if (marker === 0xda || marker === 0xd9) return null;
    const length = bytes.readUInt16BE(at + 2);
    if (isFrameHeader(marker)) {
      if (at + 9 > bytes.length) return null;
      const height = bytes.readUInt16BE(at + 5);
      const width = bytes.readUInt16BE(at + 7);
      return width > 0 && height > 0 ? { width, height } : null;
    }
    if (length < 2) return null;
    at += 2 + length;
  }
  return null;
}

/** SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range. */
function isFrameHeader(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/**
 * Whether `picture` shows a page of size `page`, scaled to fit a maximum size with each side rounded: the same
 * proportions, within 2 pixels and 1%. A screencast picture of another page size is an old frame (screencast.ts).
 */
export function isPictureOfPage(picture: { width: number; height: number }, page: { width: number; height: number }): boolean {
  const expectedHeight = (picture.width * page.height) / page.width;
  return Math.abs(picture.height - expectedHeight) <= 2 + picture.height * 0.01;
}
