import { createHash, randomBytes } from 'node:crypto';
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_SESSION_DURATION_MINUTES } from '../core/index.js';

/**
 * The browsers' downloads folders and what a crash leaves of them.
 *
 * Each browser of a pool downloads into its own 0700 folder, and each session keeps its owner's
 * files in a folder inside it (transfers.ts); both are removed when the session, the browser or the
 * pool ends. A process that dies (kill -9, out of memory, power) removes nothing: the folders, with
 * bank statements in them, would stay in the temp folder until the system cleans it.
 *
 * A folder's name says which process made it: `webasset-downloads-<host>-<pid>-<run>-XXXXXX`,
 * `<host>` a short hash of the host name, `<run>` a random token of the process (a restarted
 * container's process often gets the same pid as the one that crashed). Several processes may share one temp folder (cluster nodes on one
 * host, parallel test workers, containers with a shared /tmp), so a starting pool removes only the
 * folders of its own host whose process is gone; it never touches a folder of a live process (its
 * own included), a name of another shape, a symbolic link, or anything outside `root`.
 *
 * Names of the short-lived earlier shape without a run token (`webasset-downloads-<host>-<pid>-XXXXXX`)
 * are swept by the same rule (no process of today makes one, so one with our pid is an earlier
 * process's). The first shape, `webasset-downloads-XXXXXX`, names no process: such a folder is
 * removed only when nothing in it changed for FIRST_SHAPE_MIN_AGE_MS, longer than any session
 * lives (docs/decisions/0029, "Leftovers after a crash").
 */
export const DOWNLOADS_FOLDER_PREFIX = 'webasset-downloads-';
/** Host tag, pid, and the run token (absent in the earlier shape). */
const OWNED = /^webasset-downloads-([0-9a-f]{8})-([1-9]\d{0,9})-(?:([0-9a-f]{8})-)?[A-Za-z0-9]{6}$/;
/** The first shape: mkdtemp's six characters only, no host, no process. */
const FIRST_SHAPE = /^webasset-downloads-[A-Za-z0-9]{6}$/;
/**
 * How long nothing in a folder of the first shape (the folder, its entries, its session folders'
 * entries) must have changed before it is removed: a day more than the longest session an asset
 * may allow, so no session still holds a file in it. A running older node's idle folder may go
 * too: its browser makes it again (0700) at its next download.
 */
export const FIRST_SHAPE_MIN_AGE_MS = (MAX_SESSION_DURATION_MINUTES + 24 * 60) * 60_000;

/** Who made a downloads folder: this host (hashed), a process id and the process's run token. */
export interface FolderOwner {
  host: string;
  pid: number;
  run: string;
}

/** This process's run token: the pools of one process share it (and never sweep each other's folders). */
export const PROCESS_RUN = randomBytes(4).toString('hex');

/** The owner tag of a host name: 8 hex characters (the name itself never lands in a path). */
export function hostTag(hostName: string): string {
  return createHash('sha256').update(hostName).digest('hex').slice(0, 8);
}

/** The mkdtemp prefix of a browser's downloads folder made by `owner`. */
export function downloadsFolderPrefix(owner: FolderOwner): string {
  return `${DOWNLOADS_FOLDER_PREFIX}${owner.host}-${owner.pid}-${owner.run}-`;
}

/** Whether a process id is alive on this host; EPERM means it is, but someone else's. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

export interface SweepDeps {
  root: string;
  owner: FolderOwner;
  /** Default processAlive. */
  isAlive?: (pid: number) => boolean;
  /** Wall-clock milliseconds, compared with file modification times; default Date.now. */
  now?: () => number;
}

/** What a sweep removed: browser folders, session folders (`kept-*`) in them, files and their bytes. */
export interface SweepResult {
  folders: number;
  sessionFolders: number;
  files: number;
  bytes: number;
}

/**
 * Removes the downloads folders that processes of this host left when they died. A folder is
 * removed only when its name has our shape and this host's tag, its process is gone (no process has
 * its id, or the id is ours with another run token), and it is a real directory (lstat: a symbolic link is never followed) owned by
 * this user; a folder of the first shape when it is such a directory and nothing in it changed for
 * FIRST_SHAPE_MIN_AGE_MS. Folders that cannot be read or removed are left and not counted.
 */
export async function sweepLeftoverDownloads(deps: SweepDeps): Promise<SweepResult> {
  const isAlive = deps.isAlive ?? processAlive;
  const result: SweepResult = { folders: 0, sessionFolders: 0, files: 0, bytes: 0 };
  const now = deps.now ?? Date.now;
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  for (const name of await readdir(deps.root)) {
    const match = OWNED.exec(name);
    if (match) {
      if (match[1] !== deps.owner.host) continue;
      const pid = Number(match[2]);
      // Our pid: ours when the run token is ours too; otherwise (another token, or none) an earlier process that had our pid, gone for sure.
      if (pid === deps.owner.pid ? match[3] === deps.owner.run : isAlive(pid)) continue;
    } else if (!FIRST_SHAPE.test(name)) continue;
    const path = join(deps.root, name);
    const info = await lstat(path).catch(() => undefined);
    if (!info?.isDirectory() || (uid !== undefined && info.uid !== uid)) continue;
    const found = await survey(path, info.mtimeMs);
    if (!match && found.newest > now() - FIRST_SHAPE_MIN_AGE_MS) continue;
    // fs.rm unlinks a symbolic link found inside; it never descends into its target.
    const removed = await rm(path, { recursive: true, force: true }).then(
      () => true,
      () => false,
    );
    if (!removed) continue;
    result.folders += 1;
    result.sessionFolders += found.sessionFolders;
    result.files += found.files;
    result.bytes += found.bytes;
  }
  return result;
}

/** What one walk of a leftover folder finds, two levels deep (browser folder, session folders), without following links. */
interface Survey extends Omit<SweepResult, 'folders'> {
  /** The newest modification time seen; Infinity when something could not be read (a folder of the first shape then stays). */
  newest: number;
}

async function survey(folder: string, own: number): Promise<Survey> {
  const found: Survey = { sessionFolders: 0, files: 0, bytes: 0, newest: own };
  const visit = async (dir: string, depth: number) => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
    if (!entries) {
      found.newest = Infinity;
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      const info = await lstat(path).catch(() => undefined);
      if (!info) found.newest = Infinity;
      else found.newest = Math.max(found.newest, info.mtimeMs);
      if (entry.isDirectory() && depth === 0) {
        if (entry.name.startsWith('kept-')) found.sessionFolders += 1;
        await visit(path, depth + 1);
      } else if (entry.isFile()) {
        found.files += 1;
        found.bytes += info?.size ?? 0;
      }
    }
  };
  await visit(folder, 0);
  return found;
}
