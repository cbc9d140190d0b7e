import { statSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppError } from '../../src/core/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ManualClock } from '../support/manual-clock.js';

const CANARY_PASSWORD = 'Canary-Vault-Password-5e9a41';
const CANARY_SEED = 'KNXW4YLSPFSWIZLFMQQGC3TU';
const CANARIES = [CANARY_PASSWORD, CANARY_SEED, Buffer.from(CANARY_PASSWORD).toString('base64'), Buffer.from(CANARY_SEED).toString('base64'), 'Canary-Refused-9d'];

describe('vault admin API: write-only, canaries never leave', () => {
  let ts: TestServer;
  let token: string;
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const seen: string[] = [];

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json: unknown }> {
    const response = await fetch(`${ts.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    seen.push(text, JSON.stringify([...response.headers]));
    return { status: response.status, text, json: text ? (JSON.parse(text) as unknown) : null };
  }

  beforeAll(async () => {
    ts = await startTestServer({}, { clock });
    token = await ts.token('admin');
  });
  afterAll(async () => {
    await ts?.stop();
  });

  it('creates the master key file 0600 on first start and says once where it is', () => {
    expect(statSync(join(ts.dataDir, 'keys', 'master.key')).mode & 0o777).toBe(0o600);
    const lines = ts.logs.lines.filter((l) => l.includes('vault master key file'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(join(ts.dataDir, 'keys', 'master.key'));
    expect(lines[0]).toContain('production must supply its own key');
  });

  it('sets through PUT and answers metadata only', async () => {
    const put = await call('PUT', '/api/admin/vault/bank-x', { fields: { username: 'teller', password: CANARY_PASSWORD, totpSeed: CANARY_SEED, branchCode: '0042' }, maxAgeDays: 30 });
    expect(put.status).toBe(200);
    expect(put.json).toEqual({
      id: 'bank-x',
      version: 1,
      fields: ['branchCode', 'password', 'totpSeed', 'username'],
      setBy: { kind: 'user', id: expect.any(String) as unknown, name: expect.any(String) as unknown },
      setAt: new Date(clock.now()).toISOString(),
      ageDays: 0,
      maxAgeDays: 30,
      stale: false,
    });
    const second = await call('PUT', '/api/admin/vault/bank-x', { fields: { password: `${CANARY_PASSWORD}-2` }, merge: true });
    expect(second.json).toMatchObject({ version: 2, fields: ['branchCode', 'password', 'totpSeed', 'username'] });
    expect((await call('GET', '/api/admin/vault')).json).toMatchObject({ entries: [{ id: 'bank-x', version: 2 }] });
    expect((await call('GET', '/api/admin/vault/bank-x')).json).toMatchObject({ id: 'bank-x', version: 2, maxAgeDays: 30 });
    const history = await call('GET', '/api/admin/vault/bank-x/history');
    expect((history.json as { versions: Array<{ version: number; current: boolean }> }).versions.map((v) => [v.version, v.current])).toEqual([
      [2, true],
      [1, false],
    ]);
  });

  it('refuses bad bodies with 400 naming the field, never the value, and changes nothing', async () => {
    const bad = [
      { fields: { 'bad name': CANARY_PASSWORD } },
      { fields: { password: 'x'.repeat(4097) + CANARY_PASSWORD } },
      { fields: { totpSeed: 'Canary-Refused-9d' } },
      { fields: { password: CANARY_PASSWORD }, extra: CANARY_PASSWORD },
      { fields: {} },
      { fields: { password: CANARY_PASSWORD }, maxAgeDays: 0 },
    ];
    for (const body of bad) {
      const res = await call('PUT', '/api/admin/vault/bank-x', body);
      expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(400);
      expect((res.json as { error: { code: string } }).error.code).toBe('invalid_request');
    }
    expect((await call('PUT', '/api/admin/vault/Bad_Id', { fields: { password: CANARY_PASSWORD } })).status).toBe(400);
    expect((await call('PUT', '/api/admin/vault/bank-x', `{"fields":{"password":"${CANARY_PASSWORD}"`)).status).toBe(400);
    expect((await call('GET', '/api/admin/vault/bank-x')).json).toMatchObject({ version: 2 });
  });

  it('reads through the internal interface only, audited; a tampered entry fails closed', async () => {
    const secret = await ts.services.vault.read({ entryId: 'bank-x', sessionId: 'browser-session-1', purpose: 'login' });
    expect(secret.get('password')!.toString()).toBe(`${CANARY_PASSWORD}-2`);
    expect(secret.get('totpSeed')!.toString()).toBe(CANARY_SEED);
    ts.services.logger.info({ secret }, 'a careless log line');
    secret.dispose();
    await sql`UPDATE vault_versions SET ciphertext = substr(ciphertext, 1, 40) || 'AAAA' || substr(ciphertext, 45) WHERE entry_id = 'bank-x' AND version = 2`.execute(ts.services.database.db);
    const error = await ts.services.vault.read({ entryId: 'bank-x', sessionId: 'browser-session-2', purpose: 'login' }).catch((e: unknown) => e);
    expect((error as AppError).code).toBe('vault_entry_unreadable');
    seen.push(String((error as Error).stack), (error as AppError).publicMessage, JSON.stringify(error));
    // The admin cannot merge onto an unreadable version either; the error says so without values.
    const merged = await call('PUT', '/api/admin/vault/bank-x', { fields: { password: 'another' }, merge: true });
    expect(merged.status).toBe(500);
    expect((merged.json as { error: { code: string } }).error.code).toBe('vault_entry_unreadable');
    // Replacing every field works: the credential is set again.
    expect((await call('PUT', '/api/admin/vault/bank-x', { fields: { username: 'teller', password: CANARY_PASSWORD } })).json).toMatchObject({ version: 3 });
    await ts.services.audit.trail.flush();
    const { rows } = await sql<{ outcome: string; details: string }>`SELECT outcome, details FROM audit_events WHERE action = 'vault.secret.read' ORDER BY seq`.execute(ts.services.database.db);
    expect(rows.map((r) => r.outcome)).toEqual(['success', 'failure']);
    expect(JSON.parse(rows[0]!.details)).toMatchObject({ session: 'browser-session-1', purpose: 'login', version: 2 });
  });

  it('raises one alert for an entry past its maximum age', async () => {
    clock.advance(31 * 86_400_000);
    expect((await call('GET', '/api/admin/vault?stale=true')).json).toMatchObject({ entries: [{ id: 'bank-x', stale: true }] });
    expect(await ts.services.vault.alertStale()).toBe(1);
    expect(await ts.services.vault.alertStale()).toBe(0);
    await ts.services.audit.trail.flush();
    const { rows } = await sql<{ details: string }>`SELECT details FROM audit_events WHERE action = 'alert.raised'`.execute(ts.services.database.db);
    expect(rows.map((r) => JSON.parse(r.details) as { kind: string; subject: { id: string } })).toMatchObject([{ kind: 'vault_entry_stale', subject: { kind: 'vault_entry', id: 'bank-x' } }]);
  });

  it('deletes an entry', async () => {
    expect((await call('DELETE', '/api/admin/vault/bank-x')).status).toBe(204);
    expect((await call('GET', '/api/admin/vault/bank-x')).status).toBe(404);
  });

  it('never shows a canary in any answer, log line, audit record or audit export', async () => {
    await ts.services.audit.trail.flush();
    const audit = await sql<{ t: string }>`SELECT string_agg(actor_id || coalesce(actor_name, '') || action || coalesce(target_id, '') || details, '\n') AS t FROM audit_events`.execute(ts.services.database.db);
    const exported = await call('GET', '/api/audit?limit=500');
    expect(exported.status).toBe(200);
    const everything = [...seen, ts.logs.text(), audit.rows[0]!.t];
    for (const canary of CANARIES) {
      for (const text of everything) expect(text.includes(canary), `${canary} leaked in ${text.slice(0, 200)}`).toBe(false);
    }
    expect(ts.logs.text()).toContain('a careless log line');
  });
});
