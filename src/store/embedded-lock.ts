import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { AppError } from '../core/index.js';

/**
 * PGlite is a database inside one process: a second process opening the same
 * folder would corrupt it. This lock file, holding the owner's pid, makes the
 * second opener fail with a clear message instead.
 */
export function acquireEmbeddedLock(lockPath: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(lockPath);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
      if (Number.isInteger(owner) && owner > 0 && (owner === process.pid || isAlive(owner))) {
        throw new AppError('embedded_database_locked', {
          publicMessage: `The embedded database in ${lockPath.replace(/\/[^/]+$/, '')} is in use by process ${owner}. Stop it first, or set DATABASE_URL to use PostgreSQL.`,
        });
      }
      // The owner died without cleaning up (crash, SIGKILL): the lock is stale.
      unlinkSync(lockPath);
    }
  }
  throw new AppError('embedded_database_locked', { detail: 'could not take the lock' });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
