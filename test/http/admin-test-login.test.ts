import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoPortal } from '../../src/cli/commands/demo-portal-seed.js';
import { createDemoPortal, DEMO_CREDENTIALS, type DemoPortal } from '../../src/demo-portal/index.js';
import { TEST_ADMIN } from '../support/accounts.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { call, sessionCaller, type Caller } from './admin-callers.js';

// POST /api/admin/assets/:id/test-login on a real server, against the demo bank (TOTP login) in the server's own Chromium.

const CANARIES = [DEMO_CREDENTIALS.password, DEMO_CREDENTIALS.totpSeed];
const actor = { kind: 'user' as const, id: 'test-admin', name: 'Test admin' };

describe('POST /api/admin/assets/:id/test-login', () => {
  let ts: TestServer;
  let portal: DemoPortal;
  let admin: Caller;
  let auditor: Caller;

  beforeAll(async () => {
    ts = await startTestServer();
    portal = createDemoPortal(DEMO_CREDENTIALS);
    const url = await portal.start(0, '127.0.0.1');
    await seedDemoPortal(ts.services, { url, credentials: DEMO_CREDENTIALS, grantTo: undefined }, actor, TEST_ADMIN);
    admin = await sessionCaller(ts, 'ada', ['admin']);
    auditor = await sessionCaller(ts, 'aude', ['auditor']);
  });
  afterAll(async () => {
    await ts?.stop();
    await portal?.stop();
  });

  async function everything(): Promise<string> {
    await ts.services.audit.trail.flush();
    const { rows } = await sql<{ row: string }>`SELECT t::text AS row FROM audit_events t`.execute(ts.services.database.db);
    return `${rows.map((r) => r.row).join('\n')}\n${ts.logs.text()}`;
  }

  it('the saved login (automatic recipe with TOTP) succeeds; an unsaved recipe with a wrong selector names its step; nothing is saved; no canary anywhere', async () => {
    const good = await call(ts, admin, 'POST', '/api/admin/assets/demo-bank/test-login');
    expect(good.status).toBe(200);
    expect(good.json).toMatchObject({ ok: true });
    expect(Object.keys(good.json as object).sort()).toEqual(['durationMs', 'ok']);

    const before = await ts.services.assets.get('demo-bank');
    const recipe = { steps: [{ fill: '#username', value: '{{username}}' }, { fill: '#password', value: '{{password}}' }, { waitFor: { selector: '#no-such-button', timeoutMs: 1500 } }] };
    const bad = await call(ts, admin, 'POST', '/api/admin/assets/demo-bank/test-login', { loginRecipe: recipe });
    expect(bad.status).toBe(200);
    expect(bad.json).toMatchObject({ ok: false, failedStep: { index: 3, kind: 'waitFor', label: '3: waitFor #no-such-button' } });
    expect((bad.json as { message: string }).message).toMatch(/^Step 3: waitFor #no-such-button failed: /);
    expect(await ts.services.assets.get('demo-bank')).toEqual(before);

    // A goto outside the asset's hosts is refused as a save of that recipe would be: before the credential is held or read.
    const away = await call(ts, admin, 'POST', '/api/admin/assets/demo-bank/test-login', { loginRecipe: { steps: [{ goto: '/login-totp' }, { goto: 'https://elsewhere.example.com/' }] } });
    expect(away.status).toBe(400);
    expect(away.json).toMatchObject({ error: { code: 'invalid_request', details: [{ field: 'loginRecipe', problem: 'every absolute goto URL must be on one of allowedHosts' }] } });

    await ts.services.audit.trail.flush();
    const { rows } = await sql<{ outcome: string; details: string }>`SELECT outcome, details FROM audit_events WHERE action = 'asset.login_tested' ORDER BY seq`.execute(ts.services.database.db);
    expect(rows.map((r) => [r.outcome, JSON.parse(r.details).step ?? null])).toEqual([
      ['success', null],
      ['failure', 3],
    ]);
    const text = `${good.text}\n${bad.text}\n${away.text}\n${await everything()}`;
    for (const canary of CANARIES) expect(text).not.toContain(canary);
  });

  it('refuses bad input with a stable code, callers without admin.policy.write, and assets without a vault entry', async () => {
    const invalid = await call(ts, admin, 'POST', '/api/admin/assets/demo-bank/test-login', { loginRecipe: { steps: [{ fill: '#x' }] } });
    expect(invalid.status).toBe(400);
    expect(invalid.json).toMatchObject({ error: { code: 'invalid_request' } });
    expect((await call(ts, admin, 'POST', '/api/admin/assets/demo-bank/test-login', { recipe: {} })).status).toBe(400);
    expect((await call(ts, admin, 'POST', '/api/admin/assets/no-such/test-login', {})).status).toBe(404);
    expect((await call(ts, auditor, 'POST', '/api/admin/assets/demo-bank/test-login', {})).status).toBe(403);
    await ts.services.assets.create({ id: 'no-login', name: 'No login', url: 'https://nologin.example.com/' }, TEST_ADMIN);
    const none = await call(ts, admin, 'POST', '/api/admin/assets/no-login/test-login', {});
    expect(none.status).toBe(409);
    expect(none.json).toMatchObject({ error: { code: 'conflict' } });
  });
});
