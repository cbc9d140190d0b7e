import { accessSync, constants, statSync } from 'node:fs';

/** A regular file this process may execute (a directory or a symlink to nothing is not). */
export function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
