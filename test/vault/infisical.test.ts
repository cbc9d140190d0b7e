import { PassThrough } from 'node:stream';
import { sql } from 'kysely';
import { runCli } from '../../src/cli/main.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppError } from '../../src/core/index.js';
import { ManualClock } from '../support/manual-clock.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startInfisicalStub, type InfisicalStub } from './infisical-stub.js';

const CLIENT_SECRET = 'Canary-Infisical-Client-Secret-41aa';
const CANARY_PASSWORD = 'Canary-Infisical-Portal-Password-77';
const CANARY_SEED = 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U';

describe('vault entries kept in Infisical (against a stub of its REST API)', () => {
  let stub: InfisicalStub;
  let ts: TestServer;
  let token: string;
  const clock = new ManualClock();
  const answers: string[] = [];

  async function call(method: string, path: string, body?: unknown) {
    const response = await fetch(`${ts.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    answers.push(text);
    return { status: response.status, json: text ? (JSON.parse(text) as unknown) : null };
  }
  const read = (session: string) => ts.services.vault.read({ entryId: 'loan-portal', sessionId: session, purpose: 'login' });

  beforeAll(async () => {
    stub = await startInfisicalStub({ projectId: 'proj-123', clientId: 'machine-id-1', clientSecret: CLIENT_SECRET });
    stub.secrets.set('prod:/portals/loan:LOAN_USER', { value: 'loan-operator', version: 3 });
    stub.secrets.set('prod:/portals/loan:LOAN_PASSWORD', { value: CANARY_PASSWORD, version: 7 });
    stub.secrets.set('prod:/portals/loan:LOAN_TOTP', { value: CANARY_SEED, version: 1 });
    ts = await startTestServer({ INFISICAL_URL: stub.url, INFISICAL_CLIENT_ID: 'machine-id-1', INFISICAL_CLIENT_SECRET: CLIENT_SECRET, INFISICAL_CACHE_SECONDS: '30' }, { clock });
    token = await ts.token('admin');
  });
  afterAll(async () => {
    await ts?.stop();
    await stub?.close();
  });

  it('stores the reference (names only) and reads the values through Universal Auth', async () => {
    const set = await call('PUT', '/api/admin/vault/loan-portal/reference', {
      provider: 'infisical',
      projectId: 'proj-123',
      environment: 'prod',
      secretPath: '/portals/loan',
      keys: { username: 'LOAN_USER', password: 'LOAN_PASSWORD', totpSeed: 'LOAN_TOTP' },
    });
    expect(set.status).toBe(200);
    expect(set.json).toMatchObject({ id: 'loan-portal', provider: 'infisical', keys: { password: 'LOAN_PASSWORD' } });
    expect((await call('GET', '/api/admin/vault/loan-portal/reference')).json).toMatchObject({ projectId: 'proj-123', secretPath: '/portals/loan' });
    const secret = await read('s-1');
    expect(secret.names).toEqual(['password', 'totpSeed', 'username']);
    expect(secret.get('password')!.toString()).toBe(CANARY_PASSWORD);
    expect(secret.version).toBe(7);
    secret.dispose();
    expect(stub.requests[0]).toBe('POST /api/v1/auth/universal-auth/login');
    expect(stub.requests.slice(1).sort()).toEqual(['GET /api/v3/secrets/raw/LOAN_PASSWORD', 'GET /api/v3/secrets/raw/LOAN_TOTP', 'GET /api/v3/secrets/raw/LOAN_USER']);
  });

  it('keeps values in memory for the cache time only, then fetches again', async () => {
    stub.requests.length = 0;
    (await read('s-2')).dispose();
    expect(stub.requests).toEqual([]);
    clock.advance(31_000);
    stub.secrets.set('prod:/portals/loan:LOAN_PASSWORD', { value: `${CANARY_PASSWORD}-new`, version: 8 });
    const secret = await read('s-3');
    expect(secret.get('password')!.toString()).toBe(`${CANARY_PASSWORD}-new`);
    secret.dispose();
    expect(stub.requests.filter((r) => r.startsWith('GET'))).toHaveLength(3);
  });

  it('links and unlinks an entry from the command line (as through the admin socket)', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const io = { env: {}, cwd: ts.dataDir, stdin: new PassThrough(), stdout: out, stderr: out };
    const actor = { kind: 'user' as const, id: 'os:test', name: 'test (cli)' };
    const args = ['vault', 'link', 'cli-portal', '--infisical-project', 'proj-123', '--environment', 'prod', '--path', '/portals/loan', '--key', 'username=LOAN_USER', '--key', 'password=LOAN_PASSWORD'];
    expect(await runCli(args, io, ts.services, actor)).toBe(0);
    expect(text).toContain('linked cli-portal to Infisical proj-123 prod /portals/loan');
    const secret = await ts.services.vault.read({ entryId: 'cli-portal', sessionId: 's-cli', purpose: 'login' });
    expect(secret.names).toEqual(['password', 'username']);
    secret.dispose();
    expect(await runCli(['vault', 'link', 'cli-portal', '--infisical-project', 'proj-123', '--environment', 'prod', '--key', 'password'], io, ts.services, actor)).toBe(2);
    expect(await runCli(['vault', 'unlink', 'cli-portal'], io, ts.services, actor)).toBe(0);
    expect(await ts.services.vault.getReference('cli-portal')).toBeNull();
    answers.push(text);
  });

  it('fails closed, with a clear error, when Infisical is unreachable or refuses', async () => {
    clock.advance(31_000);
    stub.failWith = 503;
    const error = (await read('s-4').catch((e: unknown) => e)) as AppError;
    expect(error.code).toBe('secret_source_unavailable');
    expect(error.status).toBe(503);
    expect(error.publicMessage).toMatch(/Infisical/);
    stub.failWith = null;
    stub.secrets.delete('prod:/portals/loan:LOAN_TOTP');
    expect(((await read('s-5').catch((e: unknown) => e)) as AppError).code).toBe('secret_source_unavailable');
    await stub.close();
    clock.advance(31_000);
    expect(((await read('s-6').catch((e: unknown) => e)) as AppError).code).toBe('secret_source_unavailable');
    await ts.services.audit.trail.flush();
    const { rows } = await sql<{ outcome: string; details: string }>`SELECT outcome, details FROM audit_events WHERE action = 'vault.secret.read' ORDER BY seq`.execute(ts.services.database.db);
    expect(rows.map((r) => r.outcome)).toEqual(['success', 'success', 'success', 'success', 'failure', 'failure', 'failure']);
    expect(JSON.parse(rows[4]!.details)).toMatchObject({ source: 'infisical', reason: expect.stringMatching(/HTTP 503/) as unknown });
    expect(JSON.parse(rows[6]!.details)).toMatchObject({ source: 'infisical', reason: expect.stringMatching(/^secret LOAN_/) as unknown });
  });

  it('refuses a malformed reference, and removes one', async () => {
    expect((await call('PUT', '/api/admin/vault/loan-portal/reference', { provider: 'infisical', projectId: 'p', environment: 'prod', secretPath: 'no-slash', keys: { password: 'X' } })).status).toBe(400);
    expect((await call('PUT', '/api/admin/vault/loan-portal/reference', { provider: 'vault', projectId: 'p', environment: 'prod', keys: { password: 'X' } })).status).toBe(400);
    expect((await call('DELETE', '/api/admin/vault/loan-portal/reference')).status).toBe(204);
    expect((await call('GET', '/api/admin/vault/loan-portal/reference')).status).toBe(404);
  });

  it('never shows the client secret or a value in an answer, log line or audit record', async () => {
    await ts.services.audit.trail.flush();
    const audit = await sql<{ t: string }>`SELECT string_agg(details, '\n') AS t FROM audit_events`.execute(ts.services.database.db);
    for (const canary of [CLIENT_SECRET, CANARY_PASSWORD, CANARY_SEED]) {
      for (const text of [...answers, ts.logs.text(), audit.rows[0]!.t]) expect(text.includes(canary), canary).toBe(false);
    }
  });
});
