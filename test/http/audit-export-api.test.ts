import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyExportFile, createCheckpointVerifier } from '../../src/audit/index.js';
import { runCli } from '../../src/cli/main.js';
import { cli } from '../support/cli.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sessionCaller, tokenCaller, type Caller } from './admin-callers.js';

/** GET /api/audit/export: the download of `webasset audit export` (docs/api.md). */
describe('GET /api/audit/export', () => {
  let ts: TestServer;
  let auditor: Caller;
  let auditorToken: string;
  let operator: Caller;
  const scratch = mkdtempSync(join(tmpdir(), 'webasset-audit-export-'));

  beforeAll(async () => {
    ts = await startTestServer();
    auditor = await sessionCaller(ts, 'export-auditor', ['auditor']);
    auditorToken = await ts.token('auditor');
    operator = await sessionCaller(ts, 'export-operator', ['operator']);
    for (let i = 0; i < 12; i++) {
      await ts.services.audit.trail.record({
        actor: { kind: 'agent', id: `agent-${i % 3}` },
        action: i % 2 ? 'auth.token.failed' : 'token.created',
        outcome: i % 2 ? 'failure' : 'success',
        target: { kind: 'asset', id: `asset-${i % 4}` },
        details: { i, note: '=cmd|" /C calc"!A0' },
      });
    }
  });
  afterAll(async () => {
    await ts?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  const download = (caller: Caller, query: string) => fetch(`${ts.url}/api/audit/export?${query}`, { headers: caller.headers('GET') });
  const head = () => ts.services.audit.reader.headSeq();

  async function lastExported() {
    await ts.services.audit.trail.flush();
    return (await ts.services.audit.reader.search({ actionPrefix: 'audit.exported' }, { limit: 1, order: 'desc' })).events[0];
  }

  it('has no HEAD twin: a HEAD neither runs the export nor records one', async () => {
    const before = await lastExported();
    const res = await fetch(`${ts.url}/api/audit/export?format=ndjson`, { method: 'HEAD', headers: auditor.headers('GET') });
    expect(res.status).toBe(404);
    expect((await lastExported())?.id).toBe(before?.id);
  });

  it('downloads an unfiltered NDJSON export, audited audit.exported, that `webasset audit verify --file` accepts offline', async () => {
    const res = await download(auditor, 'format=ndjson');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="audit-export-[\dTZ-]+\.ndjson"$/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const text = await res.text();
    const file = join(scratch, 'all.ndjson');
    writeFileSync(file, text);
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { type: string; action?: string });
    expect(lines[0]).toMatchObject({ type: 'header', format: 'webasset.audit.export', filtered: false });
    expect(lines.filter((l) => l.type === 'event').map((l) => l.action)).toContain('token.created');

    // The real command line, as an auditor runs it on their own machine (only the file and the public key).
    const verified = await cli(['audit', 'verify', '--file', file, '--public-key', ts.services.audit.signer.publicKey], {}, scratch);
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/^OK: \d+ events \(seq 1\.\.\d+\), \d+ signed checkpoints verified/);

    const event = await lastExported();
    expect(event).toMatchObject({ actorId: auditor.userId, outcome: 'success', sourceIp: '127.0.0.1' });
    expect(JSON.parse(event!.details)).toMatchObject({ format: 'ndjson', filters: {} });
  });

  it('writes the same bytes as `webasset audit export` for the same filters (CSV, filtered)', async () => {
    const query = 'format=csv&action=token.created&outcome=success&targetKind=asset';
    const res = await fetch(`${ts.url}/api/audit/export?${query}`, { headers: { authorization: `Bearer ${auditorToken}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(/filename="audit-export-[\dTZ-]+\.csv"$/);
    const http = await res.text();

    const out: Buffer[] = [];
    const stdout = new PassThrough();
    stdout.on('data', (c: Buffer) => out.push(c));
    const io = { env: {}, cwd: scratch, stdin: new PassThrough(), stdout, stderr: new PassThrough() };
    const code = await runCli(['audit', 'export', '--format', 'csv', '--action', 'token.created', '--outcome', 'success', '--target-kind', 'asset'], io, ts.services, {
      kind: 'user',
      id: 'os:auditor@host',
    });
    expect(code).toBe(0);
    expect(http).toBe(Buffer.concat(out).toString('utf8'));
    const rows = http.trim().split('\r\n');
    expect(rows).toHaveLength(1 + 6);
    expect(JSON.parse((await lastExported())!.details)).toMatchObject({ format: 'csv', filters: { action: 'token.created', outcome: 'success', targetKind: 'asset' } });
  });

  it('downloads a filtered NDJSON export that verifies as filtered (each event\'s hash, gaps allowed)', async () => {
    const res = await download(auditor, 'format=ndjson&actor=agent-1');
    const file = join(scratch, 'agent-1.ndjson');
    writeFileSync(file, await res.text());
    const result = await verifyExportFile(file, () => createCheckpointVerifier([ts.services.audit.signer.publicKey]));
    expect(result).toMatchObject({ ok: true, filtered: true, events: 4 });
  });

  it('streams a trail longer than one reader page without holding it: chunked, every event once', async () => {
    // The reader's page is 5,000 events: this spans two pages.
    const batch = Array.from({ length: 5_100 }, (_, i) => ({ actor: { kind: 'system' as const, id: 'bulk' }, action: 'alert.raised' as const, outcome: 'success' as const, details: { i } }));
    for (let i = 0; i < batch.length; i += 100) await Promise.all(batch.slice(i, i + 100).map((e) => ts.services.audit.trail.record(e)));
    const res = await download(auditor, 'format=ndjson&actor=bulk');
    expect(res.headers.get('content-length')).toBeNull();
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    const seqs = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as { type: string; seq?: number }).filter((l) => l.type === 'event').map((l) => l.seq!);
    expect(seqs).toHaveLength(5_100);
    expect(new Set(seqs).size).toBe(5_100);

    // A client that leaves in the middle stops the reader; the server answers the next call.
    const abort = new AbortController();
    const cut = await fetch(`${ts.url}/api/audit/export?format=csv`, { headers: auditor.headers('GET'), signal: abort.signal });
    const reader = cut.body!.getReader();
    await reader.read();
    abort.abort();
    expect((await download(auditor, 'format=csv&actor=nobody')).status).toBe(200);
  }, 120_000);

  it.each([
    ['', 'format missing'],
    ['format=xml', 'unknown format'],
    ['format=ndjson&from=yesterday', 'not a time'],
    ['format=ndjson&from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'to before from'],
    ['format=csv&outcome=maybe', 'unknown outcome'],
    ['format=csv&action=DROP%20TABLE', 'not an action'],
    ['format=csv&cursor=abc', 'no paging here'],
    ['format=csv&limit=10', 'no paging here'],
  ])('?%s → 400 invalid_request (%s), nothing exported or recorded', async (query) => {
    const before = await head();
    const res = await download(auditor, query);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string } };
    expect(body.error.code).toBe('invalid_request');
    expect(JSON.stringify(body)).not.toMatch(/\bat .*\.(ts|js):\d+/);
    await ts.services.audit.trail.flush();
    expect(await head()).toBe(before);
  });

  it('refuses callers without audit.export: 401 anonymous, 403 operator and an agent token, recorded as denied', async () => {
    expect((await fetch(`${ts.url}/api/audit/export?format=ndjson`)).status).toBe(401);
    expect((await download(operator, 'format=ndjson')).status).toBe(403);
    const agent = await tokenCaller(ts, 'export-agent', 'agent');
    expect((await download(agent, 'format=csv')).status).toBe(403);
    await ts.services.audit.trail.flush();
    const denied = (await ts.services.audit.reader.search({ actionPrefix: 'auth.denied', actorId: operator.userId! }, { limit: 1, order: 'desc' })).events;
    expect(denied).toHaveLength(1);
  });
});
