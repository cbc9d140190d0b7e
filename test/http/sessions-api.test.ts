import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoPortal, type DemoPortal } from '../../src/demo-portal/index.js';
import { openDatabase } from '../../src/store/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { call, CLI, sessionCaller, type Caller } from './admin-callers.js';

// /api/sessions on a real server, real Chromium and the demo portal.

const USERNAME = 'api-alice';
const PASSWORD = 'canary-Api-3e8d51b0aa';

let ts: TestServer;
let portal: DemoPortal;
let groupId: string;
const bodies: string[] = [];

async function api(caller: Caller, method: string, path: string, body?: unknown) {
  const res = await call(ts, caller, method, path, body);
  bodies.push(res.text);
  return res;
}

async function operator(name: string, roles: Array<'operator' | 'admin'> = ['operator']): Promise<Caller> {
  const caller = await sessionCaller(ts, name, roles);
  await ts.services.groups.addMember(groupId, caller.userId!, CLI);
  // The membership refreshes the web session: the next request gets the new groups.
  return caller;
}

beforeAll(async () => {
  portal = createDemoPortal({ username: USERNAME, password: PASSWORD });
  const portalUrl = await portal.start(0, '127.0.0.1');
  ts = await startTestServer({ WEBASSET_API_RATE_LIMIT: '1000000' });
  await ts.services.vault.set({ entryId: 'bank-login', values: new Map([['username', Buffer.from(USERNAME)], ['password', Buffer.from(PASSWORD)]]) }, CLI);
  await ts.services.assets.create({ id: 'bank', name: 'Demo Bank', url: `${portalUrl}/login`, credential: 'bank-login', allowInsecureHttp: true }, CLI);
  groupId = (await ts.services.groups.create({ name: 'bank-ops' }, CLI)).id;
  await ts.services.grants.create({ subjectKind: 'group', subjectId: groupId, assetId: 'bank', actions: ['connect'] }, CLI);
});
afterAll(async () => {
  await ts?.stop();
  await portal?.stop();
});

describe('/api/sessions', () => {
  it('lets exactly one of 10 concurrent start requests use the credential; the others get 409 credential_in_use "in use by 1"', async () => {
    const callers = await Promise.all(Array.from({ length: 10 }, (_, i) => operator(`racer${i}`)));
    const answers = await Promise.all(callers.map((c) => api(c, 'POST', '/api/sessions', { assetId: 'bank' })));
    const won = answers.filter((a) => a.status === 201);
    const lost = answers.filter((a) => a.status === 409);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(9);
    expect(won[0]!.json).toMatchObject({ assetId: 'bank', state: 'active', credential: 'bank-login' });
    for (const a of lost) {
      expect(a.json).toMatchObject({ error: { code: 'credential_in_use', details: { inUse: 1, limit: 1 } } });
      expect((a.json as { error: { message: string } }).error.message).toContain('in use by 1 session');
    }
    const winner = callers[answers.indexOf(won[0]!)]!;
    const id = (won[0]!.json as { id: string }).id;
    expect((await api(winner, 'DELETE', `/api/sessions/${id}`)).json).toMatchObject({ state: 'ended', endReason: 'user' });
    expect((await api(winner, 'DELETE', `/api/sessions/${id}`)).json).toMatchObject({ error: { code: 'session_ended' } });
  });

  it('shows and ends a session only for its owner (another operator gets 404, even with a guessed id); an administrator ends it with a reason', async () => {
    const alice = await operator('alice');
    const bob = await operator('bob');
    const admin = await operator('boss', ['admin']);
    const started = await api(alice, 'POST', '/api/sessions', { assetId: 'bank' });
    expect(started.status).toBe(201);
    const id = (started.json as { id: string }).id;

    // One session's answer adds what its live view page shows: the portal's name, its timeouts, its clipboard policy (the defaults here).
    const one = await api(alice, 'GET', `/api/sessions/${id}`);
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({ id, assetId: 'bank', assetName: 'Demo Bank', idleTimeoutMs: 15 * 60_000, maxDurationMs: 480 * 60_000, clipboardCopy: 'deny', clipboardPaste: 'deny' });
    // The list stays as it was (no asset read per row).
    expect(((await api(alice, 'GET', '/api/sessions')).json as { sessions: Array<Record<string, unknown>> }).sessions[0]).not.toHaveProperty('assetName');
    expect((await api(bob, 'GET', `/api/sessions/${id}`)).json).toMatchObject({ error: { code: 'not_found' } });
    expect((await api(bob, 'GET', `/api/sessions/${randomUUID()}`)).json).toMatchObject({ error: { code: 'not_found' } });
    expect((await api(bob, 'DELETE', `/api/sessions/${id}`)).status).toBe(404);
    expect((await api(bob, 'GET', '/api/sessions')).json).toEqual({ sessions: [] });
    expect((await api(bob, 'GET', '/api/sessions?all=true')).status).toBe(403);
    expect(((await api(alice, 'GET', '/api/sessions')).json as { sessions: Array<{ id: string }> }).sessions.map((s) => s.id)).toEqual([id]);
    expect((await api(admin, 'GET', `/api/sessions/${id}`)).status).toBe(200);
    expect(((await api(admin, 'GET', '/api/sessions?all=true')).json as { sessions: Array<{ id: string }> }).sessions.map((s) => s.id)).toContain(id);

    const ended = await api(admin, 'DELETE', `/api/sessions/${id}`, { reason: 'end of the trial' });
    expect(ended.json).toMatchObject({ state: 'ended', endReason: 'admin', endMessage: 'end of the trial' });
    expect((await api(alice, 'GET', `/api/sessions/${id}`)).json).toMatchObject({ state: 'ended', endReason: 'admin' });
    await ts.services.audit.trail.flush();
    const { rows } = await sql<{ actor_id: string; details: string }>`SELECT actor_id, details FROM audit_events WHERE action = 'browser_session.ended' AND target_id = ${id}`.execute(ts.services.database.db);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.actor_id).toBe(admin.userId);
    expect(JSON.parse(rows[0]!.details)).toMatchObject({ reason: 'admin', message: 'end of the trial', userId: alice.userId });
  });

  it('takes and shows the browser-session definition of an asset in the admin API', async () => {
    const admin = await operator('asset-admin', ['admin']);
    const definition = {
      startUrl: 'https://portal.example.com/sign-in',
      credential: 'portal-entry',
      loginRecipe: { steps: [{ fill: '#user', value: '{{username}}' }, { fill: '#pass', value: '{{password}}' }, { click: 'text=Sign in' }], injection: 'intercept' },
      successCheck: { url: '**/home' },
      failureCheck: { selector: '.alert-error' },
      allowInsecureHttp: false,
      policy: { idleTimeoutMinutes: 5, downloads: 'allow' },
    };
    const created = await api(admin, 'POST', '/api/admin/assets', { id: 'portal', name: 'Portal', url: 'https://portal.example.com/', ...definition });
    expect(created.status).toBe(201);
    const policy = { idleTimeoutMinutes: 5, maxDurationMinutes: 480, downloads: 'allow', uploads: 'block', clipboardCopy: 'deny', clipboardPaste: 'deny', maxSessions: null, maxSessionsPerCredential: 1 };
    expect(created.json).toMatchObject({ ...definition, policy });
    expect((await api(admin, 'GET', '/api/admin/assets/portal')).json).toMatchObject({ ...definition, policy });
    const patched = await api(admin, 'PATCH', '/api/admin/assets/portal', { policy: { maxSessionsPerCredential: 3 }, loginRecipe: null });
    expect(patched.json).toMatchObject({ before: { policy }, after: { loginRecipe: null, policy: { ...policy, maxSessionsPerCredential: 3 } } });
    for (const bad of [{ loginRecipe: { steps: [{ teleport: '#x' }] } }, { policy: { downloads: 'maybe' } }, { startUrl: 'https://elsewhere.example.org/' }, { credential: 'Bad Entry' }]) {
      const res = await api(admin, 'PATCH', '/api/admin/assets/portal', bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.json).toMatchObject({ error: { code: 'invalid_request' } });
    }
  });

  it('refuses bad input with a stable code and changes nothing', async () => {
    const carol = await operator('carol');
    const count = async () => Number((await sql<{ n: number }>`SELECT count(*)::int AS n FROM browser_sessions`.execute(ts.services.database.db)).rows[0]!.n);
    const before = await count();
    for (const body of [{}, { assetId: 'Not An Id' }, { assetId: 'bank', extra: 1 }, { assetId: ['bank'] }, { assetId: "'; DROP TABLE browser_sessions; --" }]) {
      const res = await api(carol, 'POST', '/api/sessions', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json).toMatchObject({ error: { code: 'invalid_request' } });
    }
    expect((await api(carol, 'POST', '/api/sessions', { assetId: 'no-such-asset' })).json).toMatchObject({ error: { code: 'forbidden' } });
    expect((await api(carol, 'GET', '/api/sessions/not-a-uuid')).status).toBe(400);
    expect((await api(carol, 'GET', '/api/sessions?all=maybe')).status).toBe(400);
    expect((await api(carol, 'DELETE', `/api/sessions/${randomUUID()}`, { reason: 'x'.repeat(501) })).status).toBe(400);
    expect(await count()).toBe(before);
  });

  it('never shows the password: not in any answer, audit event or log line', async () => {
    const dave = await operator('dave');
    const started = await api(dave, 'POST', '/api/sessions', { assetId: 'bank' });
    expect(started.status).toBe(201);
    await api(dave, 'DELETE', `/api/sessions/${(started.json as { id: string }).id}`);
    await ts.services.audit.trail.flush();
    const { rows } = await sql<{ t: string }>`SELECT string_agg(details, E'\\n') AS t FROM audit_events`.execute(ts.services.database.db);
    expect(rows[0]!.t).toContain('bank-login');
    for (const [where, text] of [['answers', bodies.join('\n')], ['audit', rows[0]!.t], ['logs', ts.logs.text()]] as const) {
      expect(text, where).not.toContain(PASSWORD);
    }
  });

  it('ends every live session with shutdown when the server stops', async () => {
    const erin = await operator('erin');
    const started = await api(erin, 'POST', '/api/sessions', { assetId: 'bank' });
    expect(started.status).toBe(201);
    await ts.server.stop('SIGTERM');
    const database = await openDatabase({ databaseUrl: ts.services.config.databaseUrl, dataDir: ts.dataDir });
    try {
      const row = await database.db.selectFrom('browser_sessions').selectAll().where('id', '=', (started.json as { id: string }).id).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ state: 'ended', end_reason: 'shutdown' });
      const live = await database.db.selectFrom('browser_sessions').select('id').where('state', '<>', 'ended').execute();
      expect(live).toEqual([]);
    } finally {
      await database.close();
    }
  });
});
