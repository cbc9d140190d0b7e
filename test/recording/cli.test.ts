import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app.js';
import { runRecordingCommand } from '../../src/cli/commands/recording.js';
import type { CommandContext } from '../../src/cli/context.js';
import { describeCliError } from '../../src/cli/exit-codes.js';
import { runCli } from '../../src/cli/main.js';
import type { Principal } from '../../src/identity/index.js';
import { cli } from '../support/cli.js';
import { CANARIES, deployment, makeRecording, type MadeRecording, type RecordedDeployment } from './cli-fixture.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

function noCanary(bytes: Buffer | string, where: string): void {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  for (const canary of CANARIES) expect(buffer.includes(Buffer.from(canary)), `${where} holds a canary`).toBe(false);
}

describe('webasset recording (the auditor\'s CLI)', () => {
  let env: RecordedDeployment;
  let recording: MadeRecording;
  let second: MadeRecording;
  const run = (...args: string[]) => cli(['recording', ...args], env.env, env.dir);

  beforeAll(async () => {
    env = await deployment();
    const services = await env.open();
    try {
      recording = await makeRecording(services, { frames: 4 });
      second = await makeRecording(services, { frames: 2, assetId: 'other-portal', userId: 'u-piet' });
    } finally {
      await services.close();
    }
  });
  afterAll(async () => env?.cleanup());

  it('lists recordings with filters, and shows one with its event track (keys masked)', async () => {
    const all = await run('list');
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain(recording.id);
    expect(all.stdout).toContain(second.id);
    const [line] = all.stdout.trim().split('\n').filter((l) => l.startsWith(recording.id));
    expect(line!.split('\t').slice(3, 7)).toEqual(['complete', 'demo-bank', 'u-olga', '-']);

    const byAsset = await run('list', '--asset', 'other-portal');
    expect(byAsset.stdout).toContain(second.id);
    expect(byAsset.stdout).not.toContain(recording.id);
    const byText = await run('list', '--text', 'page-3');
    expect(byText.stdout).toContain(recording.id);
    expect(byText.stdout).not.toContain(second.id);
    expect((await run('list', '--from', 'yesterday')).code).toBe(2);

    const shown = await run('show', recording.id);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`sessionId: ${recording.sessionId}`);
    expect(shown.stdout).toContain('navigated http://127.0.0.1:8090/page-0 "Page 0"');
    expect(shown.stdout).toContain('click button "Transfer" at 100,200');
    expect(shown.stdout).toMatch(/typed \d+ key\(s\) in input\[name=password\] \(masked\)/);
    noCanary(shown.stdout, 'show');
  });

  it('refuses unknown and malformed ids alike (no path is built from them)', async () => {
    for (const id of ['4f1c1d3e-8a6b-4c2d-9e0f-1a2b3c4d5e6f', '../../etc/passwd', `${recording.id}/../x`]) {
      const res = await run('show', id);
      expect(res.code, id).toBe(2);
      expect(res.stderr).toContain('error [not_found]');
    }
  });

  it('exports a playable WebM and MP4 of the recording\'s duration, audited', async () => {
    for (const format of ['webm', 'mp4']) {
      const out = join(env.dir, `export.${format}`);
      const res = await run('export', recording.id, '--format', format, '--out', out);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout.trim()).toBe(out);
      execFileSync('ffmpeg', ['-v', 'error', '-xerror', '-i', out, '-f', 'null', '-']);
      const seconds = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', out]).toString());
      expect(Math.abs(seconds * 1000 - recording.durationMs)).toBeLessThan(1000);
      noCanary(readFileSync(out), out);
    }
    // Not over an existing file.
    const again = await run('export', recording.id, '--format', 'webm', '--out', join(env.dir, 'export.webm'));
    expect(again.code).toBe(2);
    expect((await run('export', recording.id, '--format', 'avi')).code).toBe(2);
  });

  it('says ffmpeg_missing with the fix when ffmpeg is not there, and exports nothing', async () => {
    const out = join(env.dir, 'none.webm');
    const res = await cli(['recording', 'export', recording.id, '--out', out], { ...env.env, FFMPEG_PATH: join(env.dir, 'no', 'ffmpeg') }, env.dir);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('error [ffmpeg_missing]');
    expect(res.stderr).toContain('apt-get install ffmpeg');
    expect(() => statSync(out)).toThrow();
  });

  it('writes evidence that verifies; verify names a changed chunk and exits 1', async () => {
    const dir = join(env.dir, 'evidence');
    const res = await run('evidence', recording.id, '--out', dir);
    expect(res.code, res.stderr).toBe(0);
    for (const file of filesUnder(dir)) noCanary(readFileSync(file), file);

    const ok = await run('verify', dir);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`^recording ${recording.id}: OK`));
    expect((await run('verify', recording.id)).code).toBe(0);

    const chunk = join(dir, 'recording', 'chunk-000002.war');
    const bytes = readFileSync(chunk);
    bytes[20] = bytes[20]! ^ 0x40;
    writeFileSync(chunk, bytes);
    const bad = await run('verify', dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('chunk-000002.war: FAILED');
    expect(bad.stderr).toContain('first failing chunk: chunk-000002.war');
    expect((await run('verify', join(env.dir, 'nothing-here'))).code).toBe(2);
  });

  it('holds, refuses to delete while held, releases and deletes with a reason; every step audited', async () => {
    expect((await run('delete', second.id)).code).toBe(2);
    expect((await run('hold', second.id, '--reason', 'case 2026-17')).code).toBe(0);
    const refused = await run('delete', second.id, '--reason', 'tidy up');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('error [legal_hold]');
    expect((await run('release', second.id, '--reason', 'case closed')).code).toBe(0);
    const deleted = await run('delete', second.id, '--reason', 'asked by the data owner');
    expect(deleted.code, deleted.stderr).toBe(0);
    expect((await run('show', second.id)).code).toBe(2);
    expect((await run('list')).stdout).not.toContain(second.id);

    const trail = await cli(['audit', 'export', '--format', 'ndjson', '--action', 'recording'], env.env, env.dir);
    const events = trail.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; action?: string; actor?: { id: string }; target?: { id: string } });
    const mine = events.filter((e) => e.type === 'event' && e.actor?.id.startsWith('os:'));
    expect(mine.map((e) => e.action)).toEqual(
      expect.arrayContaining(['recording.replayed', 'recording.exported', 'recording.legal_hold_set', 'recording.deleted']),
    );
    expect(mine.filter((e) => e.action === 'recording.exported' && e.target?.id === recording.id).length).toBeGreaterThanOrEqual(3);
  });
});

describe('webasset recording for someone without replay', () => {
  let env: RecordedDeployment;
  let services: Services;
  let recording: MadeRecording;

  beforeAll(async () => {
    env = await deployment();
    services = await env.open();
    recording = await makeRecording(services, { frames: 1 });
  });
  afterAll(async () => {
    await services?.close();
    await env?.cleanup();
  });

  async function as(principal: Principal, args: string[]): Promise<{ code: number; message: string; stdout: string }> {
    const stdout = new PassThrough();
    const out: Buffer[] = [];
    stdout.on('data', (c: Buffer) => out.push(c));
    const ctx: CommandContext = {
      io: { env: {}, cwd: env.dir, stdin: new PassThrough(), stdout, stderr: new PassThrough() },
      version: 'test',
      configPath: undefined,
      actor: { kind: 'user', id: principal.id, name: principal.name },
      services,
      dispatch: () => Promise.resolve(2),
    };
    try {
      return { code: await runRecordingCommand(ctx, args, principal), message: '', stdout: Buffer.concat(out).toString() };
    } catch (error) {
      const { code, message } = describeCliError(error);
      return { code, message, stdout: Buffer.concat(out).toString() };
    }
  }

  it('refuses an operator: list is forbidden, a recording (even a real id) is not found, and each refusal is audited', async () => {
    const operator: Principal = { kind: 'user', id: '0d6f5a6e-1111-4a2b-8c3d-222233334444', name: 'op', roles: ['operator'], groups: [], via: 'cli', mfa: true };
    const head = await services.audit.reader.headSeq();
    const listed = await as(operator, ['list']);
    expect(listed.message).toContain('error [forbidden]');
    const out = join(env.dir, 'x.webm');
    for (const args of [['show', recording.id], ['export', recording.id, '--out', out], ['evidence', recording.id, '--out', join(env.dir, 'ev')], ['verify', recording.id]]) {
      const res = await as(operator, args);
      expect(res.message, args.join(' ')).toContain('error [not_found]');
      expect(res.stdout).toBe('');
    }
    expect(() => statSync(out)).toThrow();
    expect(() => statSync(join(env.dir, 'ev'))).toThrow();
    const denied = (await services.audit.reader.search({ actionPrefix: 'auth.denied', fromSeq: head + 1 }, { limit: 50, order: 'asc' })).events;
    expect(denied.length).toBeGreaterThanOrEqual(5);
    expect(denied.every((e) => e.actorId === operator.id)).toBe(true);
    // Nothing was exported or replayed for them.
    const leaks = (await services.audit.reader.search({ actionPrefix: 'recording', fromSeq: head + 1 }, { limit: 50, order: 'asc' })).events;
    expect(leaks).toEqual([]);
    // Holding and deleting need the administrator's permission.
    expect((await as(operator, ['hold', recording.id, '--reason', 'x'])).message).toContain('error [forbidden]');
  });

  it('inside the server (the admin socket), runs as the local administrator and takes only absolute paths', async () => {
    const stderr = new PassThrough();
    const err: Buffer[] = [];
    stderr.on('data', (c: Buffer) => err.push(c));
    const io = { env: {}, cwd: env.dir, stdin: new PassThrough(), stdout: new PassThrough(), stderr };
    const actor = { kind: 'user' as const, id: 'os:ops@host', name: 'ops via admin socket' };
    expect(await runCli(['recording', 'export', recording.id, '--out', 'relative.webm'], io, services, actor)).toBe(2);
    expect(await runCli(['recording', 'verify', 'some-folder'], io, services, actor)).toBe(2);
    expect(Buffer.concat(err).toString()).toContain('must be an absolute path');
    expect(await runCli(['recording', 'verify', recording.id], io, services, actor)).toBe(0);
  });

  it('lets an auditor replay and export (the role permission recordings.replay)', async () => {
    const auditor: Principal = { kind: 'user', id: '0d6f5a6e-5555-4a2b-8c3d-222233334444', name: 'aud', roles: ['auditor'], groups: [], via: 'cli', mfa: true };
    const listed = await as(auditor, ['list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(recording.id);
    const out = join(env.dir, 'aud.webm');
    expect((await as(auditor, ['export', recording.id, '--out', out])).code).toBe(0);
    // An auditor cannot delete: that is an administrator's.
    expect((await as(auditor, ['delete', recording.id, '--reason', 'x'])).message).toContain('error [forbidden]');
  });
});
