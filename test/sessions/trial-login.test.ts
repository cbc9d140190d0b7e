import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createAccess } from '../../src/access/index.js';
import type { BrowserPool } from '../../src/browser/index.js';
import { randomIds, systemClock } from '../../src/core/index.js';
import { createTrialLogin } from '../../src/sessions/index.js';
import { useTestDatabase, type FreshDatabase } from '../support/databases.js';
import { buildStack, CANARY_PASSWORD, CLI, eventually, usePoolAndPortal } from './support.js';

// "Test login now": the asset's login (or an unsaved recipe) in a throwaway context of the real pool, on the demo portal.

const shared = usePoolAndPortal();

const GOOD_RECIPE = {
  steps: [{ fill: '#username', value: '{{username}}' }, { fill: '#password', value: '{{password}}' }, { click: '#sign-in' }],
};
const ACCOUNTS = { url: '**/accounts', selector: '#balance' };

async function setUp(fresh: FreshDatabase, pool: BrowserPool, portalUrl: string, options: Parameters<typeof buildStack>[3] = {}, trialTimeoutMs = 8_000) {
  const stack = await buildStack(fresh, pool, portalUrl, { loginTimeoutMs: 8_000, ...options });
  fresh.defer(() => stack.close());
  const trial = createTrialLogin({
    db: fresh.db.database.db,
    access: createAccess({ trail: stack.trail, db: fresh.db.database.db, clock: systemClock }),
    assets: stack.assets,
    vault: stack.vault,
    pool,
    trail: stack.trail,
    clock: systemClock,
    ids: randomIds,
    nodeId: 'test-node',
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    loginTimeoutMs: trialTimeoutMs,
  });
  return { stack, trial };
}

describe('trial login (Test login now)', () => {
  const fresh = useTestDatabase();

  it('a good recipe logs in: ok, audited, the context closed and the place under the limit given back', async () => {
    const { stack, trial } = await setUp(fresh, shared.pool, shared.portalUrl, { asset: { loginRecipe: GOOD_RECIPE, successCheck: ACCOUNTS } });
    const result = await trial.run(CLI, 'bank', {});
    expect(result).toMatchObject({ ok: true });
    expect(shared.pool.size).toBe(0);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM browser_sessions`.execute(fresh.db.database.db);
    expect(rows[0]!.n).toBe(0);
    const [tested] = await stack.auditRows({ action: 'asset.login_tested' });
    expect(tested).toMatchObject({ outcome: 'success', target_id: 'bank', details: { vaultEntry: 'bank-login', recipe: 'custom', unsaved: false } });
    const [read] = await stack.auditRows({ action: 'vault.secret.read' });
    expect(read).toMatchObject({ outcome: 'success', details: { purpose: 'login_test' } });
    expect(JSON.stringify(result)).not.toContain(CANARY_PASSWORD);
  });

  it('an unsaved recipe with a wrong selector fails at that step, says why, and leaves the saved recipe alone', async () => {
    const { stack, trial } = await setUp(fresh, shared.pool, shared.portalUrl, { asset: { loginRecipe: GOOD_RECIPE, successCheck: ACCOUNTS } });
    const wrong = { steps: [GOOD_RECIPE.steps[0], { fill: '#no-such-password-field', value: '{{password}}' }, GOOD_RECIPE.steps[2]] };
    const result = await trial.run(CLI, 'bank', { loginRecipe: wrong });
    expect(result).toMatchObject({ ok: false, failedStep: { index: 2, kind: 'fill', label: '2: fill #no-such-password-field' } });
    if (result.ok) throw new Error('unreachable');
    expect(result.message).toMatch(/^Step 2: fill #no-such-password-field failed: timed out/);
    expect((await stack.assets.get('bank'))!.loginRecipe).toEqual(GOOD_RECIPE);
    const [tested] = await stack.auditRows({ action: 'asset.login_tested' });
    expect(tested).toMatchObject({ outcome: 'failure', details: { step: 2, stepKind: 'fill', unsaved: true } });
    expect(shared.pool.size).toBe(0);
    const text = `${JSON.stringify(result)}\n${await stack.auditText()}\n${stack.logs.text()}`;
    expect(text).not.toContain(CANARY_PASSWORD);
  });

  it('a wrong password is refused by the failure check (the check step), never echoing a value', async () => {
    const { stack, trial } = await setUp(fresh, shared.pool, shared.portalUrl, { password: 'not-the-password-canary-77', asset: { loginRecipe: GOOD_RECIPE } });
    const result = await trial.run(CLI, 'bank', { successCheck: ACCOUNTS, failureCheck: { selector: '.error' } });
    expect(result).toMatchObject({ ok: false, failedStep: { index: 4, kind: 'check' } });
    const text = `${JSON.stringify(result)}\n${await stack.auditText()}\n${stack.logs.text()}`;
    expect(text).not.toContain('not-the-password-canary-77');
  });

  it('holds the credential limit: refused while a place is taken, and refuses invalid recipes and callers without admin.policy.write', async () => {
    const { stack, trial } = await setUp(fresh, shared.pool, shared.portalUrl, { asset: { loginRecipe: GOOD_RECIPE, successCheck: ACCOUNTS } });
    const alice = await stack.operator('alice');
    const db = fresh.db.database.db;
    await db
      .insertInto('browser_sessions')
      .values({ id: randomIds.uuid(), asset_id: 'bank', user_id: alice.id, principal_kind: 'user', state: 'active', end_reason: null, end_message: null, created_at_ms: Date.now(), active_at_ms: Date.now(), ended_at_ms: null, last_input_at_ms: Date.now(), node_id: 'elsewhere', credential: 'bank-login' })
      .execute();
    await expect(trial.run(CLI, 'bank', {})).rejects.toMatchObject({ code: 'credential_in_use' });
    expect(await stack.auditRows({ action: 'asset.login_tested' })).toMatchObject([{ outcome: 'denied', details: { reason: 'credential_in_use', inUse: 1, limit: 1 } }]);
    expect(await stack.auditRows({ action: 'vault.secret.read' })).toEqual([]);

    await expect(trial.run(CLI, 'bank', { loginRecipe: { steps: [{ fill: '#x' }] } })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(trial.run(alice, 'bank', {})).rejects.toMatchObject({ code: 'forbidden' });
    await expect(trial.run(CLI, 'no-such-asset', {})).rejects.toMatchObject({ code: 'not_found' });
  });

  it('holds the credential while it runs: a session start meanwhile is refused; a shutdown stops the test at once and gives the place back', async () => {
    // A deadline far beyond the test's own timeout: a test that is not stopped fails by hanging (no wall-clock limit is asserted).
    const { stack, trial } = await setUp(fresh, shared.pool, shared.portalUrl, { asset: { loginRecipe: GOOD_RECIPE, successCheck: ACCOUNTS } }, 30 * 60_000);
    const alice = await stack.operator('alice');
    // The test holds at its last step: an element the portal never shows.
    const holding = { steps: [...GOOD_RECIPE.steps, { waitFor: { selector: '#never-shown-by-the-portal' } }] };
    const running = trial.run(CLI, 'bank', { loginRecipe: holding });
    await eventually(async () => (await stack.auditRows({ action: 'vault.secret.read' })).length === 1, 20_000, 'the credential read');
    await expect(stack.sessions.start(alice, 'bank')).rejects.toMatchObject({ code: 'credential_in_use' });
    trial.shutdown();
    const stopped = await running;
    expect(stopped).toMatchObject({ ok: false });
    expect(!stopped.ok && stopped.message).toMatch(/failed: the session ended during the login$/);
    expect(shared.pool.size).toBe(0);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM browser_sessions WHERE state <> 'ended'`.execute(fresh.db.database.db);
    expect(rows[0]!.n).toBe(0);
    await expect(trial.run(CLI, 'bank', {})).rejects.toMatchObject({ code: 'shutting_down' });
  });
});
