import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportLines } from '../../src/audit/index.js';
import { sql } from 'kysely';
import { startTestServer, type TestServer } from '../support/server.js';

// Canary secrets: each must never appear in a response, a log line, the database or an export.
const MASTER_KEY = Buffer.from('canary-master-key-32-bytes-long!').toString('base64');
const SIGNING_KEY = Buffer.from('canary-signing-key-32-bytes-long').toString('base64');
const OIDC_SECRET = 'canary-oidc-client-secret-7f3a9';
const RUNTIME_SECRET = 'canary-portal-password-Q9x!';

describe('secrets never leave', () => {
  let t: TestServer;
  let token: string;
  const responses: string[] = [];

  beforeAll(async () => {
    t = await startTestServer({
      WEBASSET_MASTER_KEY: MASTER_KEY,
      WEBASSET_AUDIT_SIGNING_KEY: SIGNING_KEY,
      OIDC_ISSUER: 'http://127.0.0.1:1/issuer',
      // SSO needs the public URL its callback is built from.
      WEBASSET_PUBLIC_URL: 'http://127.0.0.1:8080',
      OIDC_CLIENT_ID: 'webasset',
      OIDC_CLIENT_SECRET: OIDC_SECRET,
      LOG_LEVEL: 'trace',
    });
    t.redactor.addSecret(RUNTIME_SECRET);
    token = await t.token('auditor');
    // A careless caller puts secrets into an event, both as a value and under secret-looking names.
    await t.services.audit.trail.record({
      actor: { kind: 'user', id: 'alice', name: `Alice ${RUNTIME_SECRET}` },
      action: 'token.created',
      outcome: 'success',
      target: { kind: 'asset', id: 'bank-portal' },
      details: { note: `typed ${RUNTIME_SECRET} by mistake`, password: 'hunter2-plain', nested: { totpSeed: 'JBSWY3DPEHPK3PXP', apiToken: token } },
    });
    t.services.logger.info({ oops: RUNTIME_SECRET, password: 'hunter2-plain' }, `logging ${OIDC_SECRET} by mistake`);
    const calls: Array<[string, Record<string, string>]> = [
      ['/api/audit?limit=50', { authorization: `Bearer ${token}` }],
      ['/api/audit?limit=50&actor=' + encodeURIComponent(RUNTIME_SECRET), { authorization: `Bearer ${token}` }],
      ['/api/audit', { authorization: `Bearer ${token}x` }],
      ['/api/audit?limit=nope', { authorization: `Bearer ${token}` }],
      ['/readyz', {}],
      ['/nope', { cookie: `session=${RUNTIME_SECRET}` }],
    ];
    for (const [path, headers] of calls) {
      const res = await fetch(`${t.url}${path}`, { headers: { 'user-agent': `agent ${RUNTIME_SECRET}`, ...headers } });
      responses.push(JSON.stringify([...res.headers.entries()]) + (await res.text()));
    }
    await t.services.audit.trail.flush();
  });
  afterAll(async () => t.stop());

  const canaries = () => [MASTER_KEY, SIGNING_KEY, OIDC_SECRET, RUNTIME_SECRET, 'hunter2-plain', 'JBSWY3DPEHPK3PXP', token];

  it('not in HTTP responses', () => {
    const all = responses.join('\n');
    for (const c of canaries()) expect(all).not.toContain(c);
  });

  it('not in the logs', () => {
    const logs = t.logs.text();
    expect(logs).toContain('logging');
    for (const c of canaries()) expect(logs).not.toContain(c);
  });

  it('not in any row of any table', async () => {
    const db = t.services.database.db;
    const { rows: tables } = await sql<{ tablename: string }>`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`.execute(db);
    let dump = '';
    for (const { tablename } of tables) {
      const { rows } = await sql<{ row: string }>`SELECT t::text AS row FROM ${sql.table(tablename)} t`.execute(db);
      dump += rows.map((r) => r.row).join('\n');
    }
    expect(dump).toContain('alice');
    for (const c of canaries()) expect(dump).not.toContain(c);
  });

  it('not in exports', async () => {
    const reader = t.services.audit.reader;
    const head = await reader.headSeq();
    for (const format of ['ndjson', 'csv'] as const) {
      let text = '';
      for await (const chunk of exportLines(reader, head, { format, filters: {}, publicKeys: {}, nowMs: Date.now() })) text += chunk;
      expect(text).toContain('bank-portal');
      for (const c of canaries()) expect(text).not.toContain(c);
    }
  });
});
