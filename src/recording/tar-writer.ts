import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A POSIX ustar archive (IEEE Std 1003.1, "pax" interchange format without
 * extended headers), written as a stream: a 512-byte header per entry, the
 * file's bytes padded to 512, two zero blocks at the end. Enough for evidence
 * bundles (short relative names, regular files and folders); `tar -xf` reads it.
 */

const BLOCK = 512;
/** 11 octal digits: the ustar size field's limit (8 GiB - 1). */
const MAX_SIZE = 0o77777777777;

export interface TarFile {
  /** Relative path inside the archive, `/`-separated; a folder's ends without a slash (one is added). */
  name: string;
  type: 'file' | 'directory';
  /** Bytes of a file (0 for a folder); the content must have exactly this many. */
  size: number;
  mode: number;
  mtimeMs: number;
  /** A file's bytes, read only when its turn comes. */
  content?: (() => AsyncIterable<Buffer>) | undefined;
}

/** Bytes the archive of these entries takes: known before the first byte, for Content-Length. */
export function tarSize(entries: readonly Pick<TarFile, 'size' | 'type'>[]): number {
  return entries.reduce((sum, e) => sum + BLOCK + (e.type === 'file' ? padded(e.size) : 0), 0) + 2 * BLOCK;
}

/** The archive of `entries`, in their order, one buffer at a time. */
export async function* tarStream(entries: Iterable<TarFile> | AsyncIterable<TarFile>): AsyncGenerator<Buffer> {
  for await (const entry of entries) {
    yield tarHeader(entry);
    if (entry.type !== 'file') continue;
    let written = 0;
    for await (const chunk of entry.content?.() ?? []) {
      written += chunk.length;
      // A file that grew while it was read would shift every later header: refuse rather than write a broken archive.
      if (written > entry.size) throw new Error(`tar: ${entry.name} grew while it was archived`);
      yield chunk;
    }
    if (written !== entry.size) throw new Error(`tar: ${entry.name} has ${written} bytes, not the ${entry.size} announced`);
    const pad = padded(entry.size) - entry.size;
    if (pad > 0) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(2 * BLOCK);
}

/** One ustar header block. */
export function tarHeader(entry: Pick<TarFile, 'name' | 'type' | 'size' | 'mode' | 'mtimeMs'>): Buffer {
  const size = entry.type === 'file' ? entry.size : 0;
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_SIZE) throw new Error(`tar: ${entry.name} is too large for ustar`);
  const path = entry.type === 'directory' ? `${entry.name.replace(/\/+$/, '')}/` : entry.name;
  const [prefix, name] = splitName(path);
  const header = Buffer.alloc(BLOCK);
  header.write(name, 0, 100, 'utf8');
  octal(header, 100, 8, entry.mode & 0o7777);
  octal(header, 108, 8, 0); // uid
  octal(header, 116, 8, 0); // gid
  octal(header, 124, 12, size);
  octal(header, 136, 12, Math.max(0, Math.floor(entry.mtimeMs / 1000)));
  header.fill(0x20, 148, 156); // the checksum counts its own field as spaces
  header.write(entry.type === 'directory' ? '5' : '0', 156, 1, 'ascii');
  header.write('ustar\u000000', 257, 8, 'ascii');
  header.write('root', 265, 32, 'ascii'); // uname
  header.write('root', 297, 32, 'ascii'); // gname
  header.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of header) sum += byte;
  // Six octal digits, NUL, space: what every tar writes and reads.
  header.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
  return header;
}

/**
 * The entries of a folder, folders before what they hold, names sorted, each
 * under `root/`: an archive that extracts into one folder of that name.
 */
export async function folderEntries(dir: string, root: string): Promise<TarFile[]> {
  const out: TarFile[] = [];
  async function visit(path: string, name: string): Promise<void> {
    const info = await lstat(path);
    if (info.isDirectory()) {
      out.push({ name, type: 'directory', size: 0, mode: 0o755, mtimeMs: info.mtimeMs });
      for (const child of (await readdir(path)).sort()) await visit(join(path, child), `${name}/${child}`);
    } else if (info.isFile()) {
      out.push({ name, type: 'file', size: info.size, mode: 0o644, mtimeMs: info.mtimeMs, content: () => createReadStream(path) });
    }
    // Anything else (a link, a socket, a device) is not part of a bundle and is left out, never followed.
  }
  await visit(dir, root);
  return out;
}

function padded(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

/** A path as ustar's `prefix` (up to 155 bytes) and `name` (up to 100), split at a slash. */
function splitName(path: string): [string, string] {
  if (path.includes('\u0000')) throw new Error('tar: a name holds NUL');
  if (Buffer.byteLength(path) <= 100) return ['', path];
  for (let i = path.lastIndexOf('/', path.length - 2); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return [prefix, name];
  }
  throw new Error(`tar: the name ${path} is too long for ustar`);
}

/** An octal number, zero-padded, NUL-terminated, in `length` bytes. */
function octal(header: Buffer, offset: number, length: number, value: number): void {
  header.write(`${value.toString(8).padStart(length - 1, '0')}\u0000`, offset, length, 'ascii');
}
