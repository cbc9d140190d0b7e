import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../core/index.js';

const BLOCK = 512;
/** A path segment of a bundle: what `tar-writer.ts` and `evidence.ts` write, nothing that could climb out. */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const MAX_ENTRIES = 100_000;

/**
 * Extracts a ustar (or GNU tar, short names) archive into `intoDir`, which
 * must be empty. Only regular files and folders with plain relative names are
 * taken; anything else (links, devices, `..`, absolute paths, long-name
 * extensions) refuses the whole archive, as does a cut-off or altered header.
 * Nothing is written outside `intoDir`, and never more bytes than the archive has.
 */
export async function extractTar(archive: string, intoDir: string): Promise<void> {
  const refuse = (why: string) => new AppError('invalid_request', { publicMessage: `${archive} is not a readable evidence archive: ${why}` });
  const file = await open(archive, 'r');
  try {
    const { size: total } = await file.stat();
    const header = Buffer.alloc(BLOCK);
    let offset = 0;
    for (let entries = 0; ; entries++) {
      if (entries > MAX_ENTRIES) throw refuse('too many entries');
      if (offset + BLOCK > total) throw refuse('it ends without the closing blocks');
      const { bytesRead } = await file.read(header, 0, BLOCK, offset);
      if (bytesRead !== BLOCK) throw refuse('a header is cut short');
      if (header.every((b) => b === 0)) return;
      const entry = parseHeader(header, refuse);
      offset += BLOCK;
      if (offset + entry.size > total) throw refuse(`${entry.name} is cut short`);
      const target = join(intoDir, ...entry.segments);
      if (entry.segments.length === 0) {
        if (entry.type !== 'directory') throw refuse('a file without a name');
      } else if (entry.type === 'directory') await mkdir(target, { recursive: true, mode: 0o700 });
      else {
        await mkdir(dirname(target), { recursive: true, mode: 0o700 });
        // `wx`: a name given twice is refused rather than overwritten.
        const out = createWriteStream(target, { flags: 'wx', mode: 0o600 });
        const source = entry.size === 0 ? Readable.from([]) : createReadStream(archive, { start: offset, end: offset + entry.size - 1 });
        await pipeline(source, out).catch((error: unknown) => {
          throw (error as NodeJS.ErrnoException).code === 'EEXIST' ? refuse(`${entry.name} appears twice`) : error;
        });
      }
      offset += Math.ceil(entry.size / BLOCK) * BLOCK;
    }
  } finally {
    await file.close();
  }
}

interface Entry {
  name: string;
  segments: string[];
  type: 'file' | 'directory';
  size: number;
}

function parseHeader(header: Buffer, refuse: (why: string) => AppError): Entry {
  const magic = header.toString('latin1', 257, 263);
  if (magic !== 'ustar\u0000' && magic !== 'ustar ') throw refuse('not a ustar archive');
  const stored = readOctal(header, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  if (stored === null || stored !== sum) throw refuse('a header checksum does not match');
  const prefix = text(header, 345, 155);
  const base = text(header, 0, 100);
  const name = prefix ? `${prefix}/${base}` : base;
  const flag = String.fromCharCode(header[156]!);
  const type = flag === '0' || flag === '\u0000' ? 'file' : flag === '5' ? 'directory' : null;
  if (type === null) throw refuse(`${name} is neither a file nor a folder (type ${JSON.stringify(flag)})`);
  const size = readOctal(header, 124, 12);
  if (size === null) throw refuse(`${name} has no readable size`);
  // `tar -cf x.tar -C folder .` names everything `./...`: that leading dot is the archive's root.
  const segments = name.replace(/\/+$/, '').split('/').filter((s, i) => !(i === 0 && s === '.'));
  if (name.startsWith('/') || !segments.every((s) => SEGMENT.test(s))) throw refuse(`${JSON.stringify(name)} is not a plain relative name`);
  return { name, segments, type, size: type === 'directory' ? 0 : size };
}

function text(header: Buffer, offset: number, length: number): string {
  const field = header.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.toString('utf8', 0, end === -1 ? length : end);
}

/** An octal field (spaces or NULs around the digits); null when it is not one. */
function readOctal(header: Buffer, offset: number, length: number): number | null {
  const field = header.subarray(offset, offset + length);
  const end = field.indexOf(0);
  const digits = field.toString('latin1', 0, end === -1 ? length : end).trim();
  if (!/^[0-7]{1,12}$/.test(digits)) return null;
  return parseInt(digits, 8);
}
