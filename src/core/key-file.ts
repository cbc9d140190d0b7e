import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, openSync, readFileSync, statSync, writeSync, closeSync, fsyncSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Reads a 32-byte base64 key file, creating it (mode 0600, contents fsync'ed)
 * when absent. Used for the embedded defaults only; production supplies
 * keys through configuration. Returns whether the file was created now.
 */
export function loadOrCreateKeyFile(path: string): { key: string; created: boolean } {
  try {
    const key = readFileSync(path, 'utf8').trim();
    if (Buffer.from(key, 'base64').length !== 32) throw new Error(`key file ${path} does not hold 32 bytes of base64`);
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    return { key, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const key = randomBytes(32).toString('base64');
  // 'wx': if another process created it meanwhile, fail rather than overwrite its key.
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, `${key}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { key, created: true };
}
