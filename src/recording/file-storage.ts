import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../core/index.js';
import { isRecordingId } from './recording-id.js';
import type { RecordingStorage } from './types.js';

const CHUNK_NAME = /^chunk-(\d{6,9})\.war$/;
const MANIFEST = 'manifest.json';
/** Our own temp files (`.chunk-000001.war.<hex>.tmp`, `.probe-<hex>`), never anything else. */
const TEMP_NAME = /^\.(?:(?:chunk-\d{6,9}\.war|manifest\.json)\.[0-9a-f]{12}\.tmp|probe-[0-9a-f]{12})$/;
const MAX_SEQ = 999_999_999;

/** The file name of chunk `seq` (`chunk-000001.war`). */
export function chunkFileName(seq: number): string {
  return `chunk-${String(seq).padStart(6, '0')}.war`;
}

/** Sequence numbers of the chunk files among `names`, ascending. */
export function chunkSeqs(names: readonly string[]): number[] {
  return names
    .map((name) => CHUNK_NAME.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/**
 * Recordings as folders `<dir>/<recordingId>/` of whole chunk files and a
 * manifest. Every write is temp file, fsync, rename, fsync of the folder, so
 * a file that exists is whole and durable (see docs/decisions/0024-recording-format.md).
 */
export function createFileRecordingStorage(dir: string): RecordingStorage {
  if (typeof dir !== 'string' || dir === '') throw new TypeError('createFileRecordingStorage: dir is required');

  /** The only place a path is built from an id: a strict UUID, or `not_found`. */
  function folderOf(id: string): string {
    if (!isRecordingId(id)) throw new AppError('not_found', { publicMessage: 'No such recording.' });
    return join(dir, id.toLowerCase());
  }

  function checkSeq(seq: number): number {
    if (!Number.isInteger(seq) || seq < 1 || seq > MAX_SEQ) throw new AppError('invalid_request', { publicMessage: 'Invalid chunk number.' });
    return seq;
  }

  return {
    async create(id) {
      const folder = folderOf(id);
      await mkdir(folder, { recursive: true, mode: 0o700 });
      // mkdir succeeds on a full disk; a small durable write does not.
      const probe = join(folder, `.probe-${randomBytes(6).toString('hex')}`);
      await writeDurably(probe, Buffer.from('probe'));
      await unlink(probe);
    },
    async writeChunk(id, seq, bytes) {
      const folder = folderOf(id);
      await replaceDurably(folder, chunkFileName(checkSeq(seq)), bytes);
    },
    async readChunk(id, seq) {
      return readIfExists(join(folderOf(id), chunkFileName(checkSeq(seq))));
    },
    async listChunks(id) {
      const folder = folderOf(id);
      try {
        return chunkSeqs(await readdir(folder));
      } catch (error) {
        if (isNotFound(error)) return [];
        throw error;
      }
    },
    async writeManifest(id, bytes) {
      const folder = folderOf(id);
      await replaceDurably(folder, MANIFEST, bytes);
      // A sealed folder holds its chunks and manifest only: temp files a crash left behind go.
      for (const name of await readdir(folder)) {
        if (TEMP_NAME.test(name)) await rm(join(folder, name), { force: true });
      }
    },
    async readManifest(id) {
      return readIfExists(join(folderOf(id), MANIFEST));
    },
    async remove(id) {
      await rm(folderOf(id), { recursive: true, force: true });
    },
  };
}

/** Writes `name` in `folder` whole: temp file, fsync, rename, fsync of the folder. */
export async function replaceDurably(folder: string, name: string, bytes: Buffer): Promise<void> {
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const temp = join(folder, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeDurably(temp, bytes);
    await rename(temp, join(folder, name));
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
  await syncFolder(folder);
}

async function writeDurably(path: string, bytes: Buffer): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function readIfExists(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}
