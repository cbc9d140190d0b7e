import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBrowserPool, downloadsFolderPrefix, findChromium, FIRST_SHAPE_MIN_AGE_MS, hostTag, PROCESS_RUN, type BrowserPool } from '../../src/browser/index.js';
import { LogCapture } from '../support/server.js';
import { eventLog, html, loopbackLookup, spec, startSite, TEST_LAUNCH_ARGS, type Site } from './support.js';

/**
 * A process that dies without cleaning up leaves its browser's downloads folder, kept statements
 * in it. The next pool of this host removes such folders when it starts, and nothing else: not a
 * live session's folder, not a folder of another live process, not a link's target.
 */
const STATEMENT = Buffer.from('account,balance\nchecking,1024.50\n');
const HOST = hostTag(hostname());

let root: string;
let outside: string;
let site: Site;
const pools: BrowserPool[] = [];

/** A process id that was alive a moment ago and is no longer. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid!;
}

/**
 * A downloads folder as a process `pid` of `host` makes it, with a session folder holding one
 * statement; `run` null: the earlier shape without a run token (`webasset-downloads-<host>-<pid>-XXXXXX`).
 */
function leftover(pid: number, host = HOST, run: string | null = 'feedc0de'): { folder: string; file: string } {
  const folder = mkdtempSync(join(root, run === null ? `webasset-downloads-${host}-${pid}-` : downloadsFolderPrefix({ host, pid, run })));
  mkdirSync(join(folder, 'kept-s1-abc123'), { mode: 0o700 });
  const file = join(folder, 'kept-s1-abc123', '2b1f0c4e-0000-4000-8000-000000000000');
  writeFileSync(file, STATEMENT);
  return { folder, file };
}

/**
 * A folder of the first shape (`webasset-downloads-XXXXXX`, no host or process in its name) with a
 * session folder holding one statement, everything last changed `ageMs` ago except the statement
 * when `statementAgeMs` is given.
 */
function firstShape(suffix: string, ageMs: number, statementAgeMs = ageMs): { folder: string; file: string } {
  const folder = join(root, `webasset-downloads-${suffix}`);
  mkdirSync(join(folder, 'kept-s2-def456'), { recursive: true, mode: 0o700 });
  const file = join(folder, 'kept-s2-def456', '3c2e1d5f-0000-4000-8000-000000000000');
  writeFileSync(file, STATEMENT);
  const at = (age: number) => new Date(Date.now() - age);
  utimesSync(file, at(statementAgeMs), at(statementAgeMs));
  utimesSync(join(folder, 'kept-s2-def456'), at(ageMs), at(ageMs));
  utimesSync(folder, at(ageMs), at(ageMs));
  return { folder, file };
}

function startPool(logs = new LogCapture()): BrowserPool {
  const pool = createBrowserPool({ chromiumPath: findChromium(undefined), logger: pino({ level: 'info' }, logs), launchArgs: TEST_LAUNCH_ARGS, lookup: loopbackLookup, downloadsRoot: root });
  pools.push(pool);
  return pool;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'sweep-root-'));
  outside = mkdtempSync(join(tmpdir(), 'sweep-outside-'));
  site = await startSite((req, res) => {
    if (req.url === '/statement.csv') {
      res.writeHead(200, { 'content-type': 'text/csv', 'content-disposition': 'attachment; filename="statement.csv"', 'content-length': String(STATEMENT.length) });
      return res.end(STATEMENT);
    }
    html(res, '<a href="/statement.csv" style="position:absolute;left:20px;top:20px;width:200px;height:40px;display:block">download</a>');
  });
});
afterAll(async () => {
  for (const pool of pools) await pool.close();
  await site?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe('downloads left by a process that died', () => {
  it('are removed when the next pool starts (counted in its log); a live session keeps its statement; live processes, other hosts, other names and links are left alone', async () => {
    // A live session of another pool of this process, with a kept statement.
    const first = startPool();
    const log = eventLog();
    const live = await first.open(spec({ onEvent: log.onEvent, policy: { downloads: 'allow', uploads: 'block', clipboardCopy: 'deny', clipboardPaste: 'deny' } }));
    await live.navigate(site.url('portal.test', '/'));
    await live.input({ type: 'mouse', action: 'down', x: 60, y: 40, button: 'left' });
    await live.input({ type: 'mouse', action: 'up', x: 60, y: 40, button: 'left' });
    const kept = (await log.waitFor((e) => e.type === 'download')) as { id: string };

    const dead = leftover(await deadPid());
    // A restarted container's process may get the pid of the one that crashed: another run token tells them apart.
    const samePidEarlierRun = leftover(process.pid);
    const otherHost = leftover(await deadPid(), hostTag('another-host'));
    const liveProcess = leftover(process.ppid);
    // The earlier shape without a run token: the same rule (a dead pid, or ours: an earlier process's).
    const earlierDead = leftover(await deadPid(), HOST, null);
    const earlierSamePid = leftover(process.pid, HOST, null);
    const earlierLive = leftover(process.ppid, HOST, null);
    const earlierOtherHost = leftover(await deadPid(), hostTag('another-host'), null);
    // A link with a dead process's name, to a folder outside the root: neither followed nor emptied.
    writeFileSync(join(outside, 'keep.txt'), 'outside');
    const link = join(root, `${downloadsFolderPrefix({ host: HOST, pid: await deadPid(), run: PROCESS_RUN })}link00`);
    symlinkSync(outside, link, 'dir');
    // The first shape names no process: removed only when nothing in it changed for longer than any session lives.
    const unrelated = join(root, 'webasset-downloads-abcdef');
    mkdirSync(unrelated);
    const day = 24 * 60 * 60_000;
    const firstShapeOld = firstShape('Old123', FIRST_SHAPE_MIN_AGE_MS + day);
    const firstShapeYoung = firstShape('Young1', FIRST_SHAPE_MIN_AGE_MS - day);
    // An old folder whose statement changed recently: a session may still hold it.
    const firstShapeRecentFile = firstShape('Recnt1', FIRST_SHAPE_MIN_AGE_MS + day, 0);
    // A link with a name of the first shape to an old folder outside: neither followed nor removed.
    const oldOutside = mkdtempSync(join(tmpdir(), 'sweep-old-outside-'));
    writeFileSync(join(oldOutside, 'keep.txt'), 'outside');
    utimesSync(join(oldOutside, 'keep.txt'), new Date(Date.now() - FIRST_SHAPE_MIN_AGE_MS - day), new Date(Date.now() - FIRST_SHAPE_MIN_AGE_MS - day));
    utimesSync(oldOutside, new Date(Date.now() - FIRST_SHAPE_MIN_AGE_MS - day), new Date(Date.now() - FIRST_SHAPE_MIN_AGE_MS - day));
    const firstShapeLink = join(root, 'webasset-downloads-Link01');
    symlinkSync(oldOutside, firstShapeLink, 'dir');

    const logs = new LogCapture();
    const second = startPool(logs);
    const session = await second.open(spec({ onEvent: () => undefined }));

    for (const gone of [dead, samePidEarlierRun, earlierDead, earlierSamePid]) expect(existsSync(gone.folder)).toBe(false);
    for (const left of [otherHost, liveProcess, earlierLive, earlierOtherHost]) expect(existsSync(left.file)).toBe(true);
    expect(existsSync(link)).toBe(true);
    expect(readdirSync(outside)).toEqual(['keep.txt']);
    expect(existsSync(unrelated)).toBe(true);
    expect(existsSync(firstShapeOld.folder)).toBe(false);
    for (const left of [firstShapeYoung, firstShapeRecentFile]) expect(existsSync(left.file)).toBe(true);
    expect(existsSync(firstShapeLink)).toBe(true);
    expect(readdirSync(oldOutside)).toEqual(['keep.txt']);
    rmSync(oldOutside, { recursive: true, force: true });
    // The live session's statement is still there and still served.
    const opened = await live.transfers.openDownload(kept.id);
    const chunks: Buffer[] = [];
    for await (const chunk of opened!.stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(STATEMENT)).toBe(true);

    const line = logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => typeof l.msg === 'string' && l.msg.startsWith('removed downloads folders'));
    expect(line).toMatchObject({ folders: 5, sessionFolders: 5, files: 5, bytes: 5 * STATEMENT.length });
    await session.close();
    await live.close();
  });
});
