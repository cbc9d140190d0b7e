import { closeSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { open, stat, truncate, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PreparedEvent } from './event.js';

/**
 * The local, append-only spool that keeps audit events durable while the
 * database cannot be reached. One NDJSON line per event; an append returns
 * only after fdatasync. A line cut short by a crash was never acknowledged,
 * so a trailing partial line is ignored when reading.
 */
export interface AuditSpool {
  readonly path: string;
  append(events: readonly PreparedEvent[]): Promise<void>;
  /** Reads up to `max` events starting at byte `offset`. */
  read(offset: number, max: number): Promise<{ events: PreparedEvent[]; next: number }>;
  size(): Promise<number>;
  /** Empties the spool once every event in it is in the database. */
  clear(): Promise<void>;
  close(): Promise<void>;
}

const FORMAT = 1;
const READ_CHUNK = 1 << 20;

export function createAuditSpool(path: string): AuditSpool {
  let handle: FileHandle | undefined;

  async function writable(): Promise<FileHandle> {
    if (handle) return handle;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    await dropTornTail(path);
    handle = await open(path, 'a', 0o600);
    // The file's directory entry must be durable too, or a crash could lose the whole file.
    const dirFd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    return handle;
  }

  return {
    path,
    async append(events) {
      if (events.length === 0) return;
      const fh = await writable();
      const text = events.map((e) => JSON.stringify({ v: FORMAT, ...e })).join('\n') + '\n';
      await fh.write(text);
      await fh.datasync();
    },

    async read(offset, max) {
      const events: PreparedEvent[] = [];
      let fh: FileHandle;
      try {
        fh = await open(path, 'r');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { events, next: offset };
        throw error;
      }
      try {
        let position = offset;
        let carry = Buffer.alloc(0);
        while (events.length < max) {
          const buf = Buffer.alloc(READ_CHUNK);
          const { bytesRead } = await fh.read(buf, 0, READ_CHUNK, position + carry.length);
          if (bytesRead === 0) break;
          let data = Buffer.concat([carry, buf.subarray(0, bytesRead)]);
          let newline: number;
          while (events.length < max && (newline = data.indexOf(0x0a)) !== -1) {
            const line = data.subarray(0, newline).toString('utf8');
            events.push(parseLine(line, position));
            position += newline + 1;
            data = data.subarray(newline + 1);
          }
          carry = data;
        }
        return { events, next: position };
      } finally {
        await fh.close();
      }
    },

    async size() {
      try {
        return (await stat(path)).size;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
        throw error;
      }
    },

    async clear() {
      if (handle) await handle.datasync();
      try {
        await truncate(path, 0);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    },

    async close() {
      const fh = handle;
      handle = undefined;
      await fh?.close();
    },
  };
}

/** Cuts a trailing partial line left by a crash mid-append, so the next line starts clean. */
async function dropTornTail(path: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r+');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    const { size } = await fh.stat();
    let end = size;
    const buf = Buffer.alloc(64 * 1024);
    while (end > 0) {
      const start = Math.max(0, end - buf.length);
      const { bytesRead } = await fh.read(buf, 0, end - start, start);
      const newline = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (newline !== -1) {
        end = start + newline + 1;
        break;
      }
      end = start;
    }
    if (end < size) {
      await fh.truncate(end);
      await fh.datasync();
    }
  } finally {
    await fh.close();
  }
}

function parseLine(line: string, position: number): PreparedEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error(`audit spool is corrupt at byte ${position}: not JSON`);
  }
  const { v, ...event } = value as { v?: unknown } & PreparedEvent;
  if (v !== FORMAT) throw new Error(`audit spool at byte ${position} has unknown format ${String(v)}`);
  return event;
}
