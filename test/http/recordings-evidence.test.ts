import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { cli } from '../support/cli.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sessionCaller, type Caller } from './admin-callers.js';
import { record, recorderNode, screenshotJpegs, type RecorderNode, type Step } from './recordings-fixtures.js';

/** The deployment's signing key here: manifests and checkpoints are signed with it, so a bundle verifies with the deployment's keys. */
const SIGNING_KEY = Buffer.alloc(32, 7).toString('base64');
const PASSWORD_CANARY = 'Evidence-Canary-Pw-5b1e';

/** A recorder that signs with the deployment's key, in small chunks: each frame starts a new one, so there are several to tamper with. */
function signingRecorder(ts: TestServer): RecorderNode {
  return recorderNode(ts, undefined, { signingKey: SIGNING_KEY, maxChunkBytes: 2 * 1024 });
}

/** `webasset recording verify TARGET` inside the server (as through its admin socket): exit code and what it printed. */
async function cliVerify(ts: TestServer, target: string): Promise<{ code: number; out: string }> {
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => chunks.push(c));
  const io = { env: {}, cwd: '/', stdin: new PassThrough(), stdout: sink, stderr: sink };
  const code = await runCli(['recording', 'verify', target], io, ts.services, { kind: 'user', id: 'os:auditor@host', name: 'auditor (cli)' });
  return { code, out: Buffer.concat(chunks).toString('utf8') };
}

describe('GET /api/recordings/:id/evidence', () => {
  let ts: TestServer;
  let auditor: Caller;
  let outsider: Caller;
  let id: string;
  const scratch = mkdtempSync(join(tmpdir(), 'webasset-ev-http-test-'));

  beforeAll(async () => {
    const jpegs = await screenshotJpegs(4);
    ts = await startTestServer({ WEBASSET_AUDIT_SIGNING_KEY: SIGNING_KEY });
    auditor = await sessionCaller(ts, 'evidence-auditor', ['auditor']);
    outsider = await sessionCaller(ts, 'evidence-outsider', ['operator']);
    const steps: Step[] = [
      { at: 0, frame: 0 },
      { at: 500, event: { type: 'keys', target: 'input[name=password]', field: 'password' as const, count: PASSWORD_CANARY.length, text: PASSWORD_CANARY } },
      { at: 1000, frame: 1 },
      { at: 2000, frame: 2 },
      { at: 3000, frame: 3 },
    ];
    id = await record(signingRecorder(ts), { sessionId: randomUUID(), assetId: 'portal', userId: randomUUID() }, jpegs, steps, 4000);
  }, 120_000);
  afterAll(async () => {
    await ts?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  const download = (caller: Caller, recordingId = id) => fetch(`${ts.url}/api/recordings/${recordingId}/evidence`, { headers: caller.headers('GET') });

  it('downloads one .tar that tar lists and `webasset recording verify` accepts; a changed chunk byte fails, naming the chunk', async () => {
    const res = await download(auditor);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-tar');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="evidence-${id}.tar"`);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.length).toBe(Number(res.headers.get('content-length')));
    for (const secret of [PASSWORD_CANARY, SIGNING_KEY]) expect(bytes.includes(Buffer.from(secret)), 'a secret in the bundle').toBe(false);
    const archive = join(scratch, `evidence-${id}.tar`);
    writeFileSync(archive, bytes);

    const listing = execFileSync('tar', ['-tf', archive], { encoding: 'utf8' }).trim().split('\n');
    const chunks = listing.filter((n) => n.endsWith('.war'));
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    expect(listing).toEqual(
      expect.arrayContaining([`evidence-${id}/`, `evidence-${id}/audit-events.ndjson`, `evidence-${id}/public-key.txt`, `evidence-${id}/verification.txt`, `evidence-${id}/recording/manifest.json`]),
    );

    const ok = await cliVerify(ts, archive);
    expect(ok.out).toContain(`recording ${id}: OK`);
    expect(ok.code).toBe(0);
    // Its audit events, straight from the archive: a filtered export (the session's events) that verifies.
    const events = await cli(['audit', 'verify', '--file', archive, '--public-key', ts.services.audit.signer.publicKey], {}, scratch);
    expect(events.stdout).toMatch(/^OK: \d+ events \(seq \d+\.\.\d+\), \d+ signed checkpoints verified/);
    expect(events.code).toBe(0);
    // Extracted by GNU tar, the folder verifies too.
    const out = join(scratch, 'extracted');
    mkdirSync(out);
    execFileSync('tar', ['-xf', archive, '-C', out]);
    expect((await cliVerify(ts, join(out, `evidence-${id}`))).code).toBe(0);

    // One byte of the second chunk changed, in the archive itself.
    const second = `evidence-${id}/recording/chunk-000002.war`;
    const offset = offsetOf(bytes, second);
    const tampered = Buffer.from(bytes);
    tampered[offset + 100] = tampered[offset + 100]! ^ 0xff;
    const bad = join(scratch, 'tampered.tar');
    writeFileSync(bad, tampered);
    const failed = await cliVerify(ts, bad);
    expect(failed.code).toBe(1);
    expect(failed.out).toContain('chunk-000002.war: FAILED');
    expect(failed.out).toContain('first failing chunk: chunk-000002.war (seq 2)');
    // The scratch folders of both checks are gone.
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith('webasset-evidence-'))).toEqual([]);
  });

  it('is audited recording.exported (format evidence) by the caller, and leaves no folder behind', async () => {
    await ts.services.audit.trail.flush();
    const events = (await ts.services.audit.reader.search({ actionPrefix: 'recording.exported', targetId: id }, { limit: 10, order: 'asc' })).events;
    expect(events.map((e) => e.actorId)).toEqual([auditor.userId]);
    expect(JSON.parse(events[0]!.details)).toMatchObject({ format: 'evidence' });
    expect(events[0]!.sourceIp).toBe('127.0.0.1');
    await expect.poll(() => readdirSync(join(ts.dataDir, 'exports'))).toEqual([]);
  });

  it('refuses whoever may not replay it (404 as for an unknown id), a malformed id (400) and anonymous callers (401), exporting nothing', async () => {
    expect((await download(outsider)).status).toBe(404);
    expect((await download(auditor, randomUUID())).status).toBe(404);
    expect((await download(auditor, 'not-an-id')).status).toBe(400);
    expect((await fetch(`${ts.url}/api/recordings/${id}/evidence`)).status).toBe(401);
    expect((await fetch(`${ts.url}/api/recordings/${id}/evidence?x=1`, { headers: auditor.headers('GET') })).status).toBe(400);
    await ts.services.audit.trail.flush();
    const events = (await ts.services.audit.reader.search({ actionPrefix: 'recording.exported' }, { limit: 10, order: 'asc' })).events;
    expect(events).toHaveLength(1);
  });

  it('refuses a recording still running (409)', async () => {
    const node = signingRecorder(ts);
    const running = await node.recordings.begin({ sessionId: randomUUID(), assetId: 'portal', userId: randomUUID(), retentionDays: 30 });
    try {
      const res = await download(auditor, running.recordingId);
      expect(res.status).toBe(409);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('conflict');
    } finally {
      await running.seal({ complete: true });
    }
  });
});

/** Where a member's bytes start in a ustar archive (its header names it). */
function offsetOf(archive: Buffer, name: string): number {
  for (let at = 0; at + 512 <= archive.length; ) {
    const header = archive.subarray(at, at + 512);
    const size = parseInt(header.toString('latin1', 124, 136).replace(/\0.*$/, ''), 8) || 0;
    const base = header.toString('utf8', 0, 100).replace(/\0.*$/, '');
    const prefix = header.toString('utf8', 345, 500).replace(/\0.*$/, '');
    if ((prefix ? `${prefix}/${base}` : base) === name) return at + 512;
    at += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${name} is not in the archive`);
}
