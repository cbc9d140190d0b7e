import { randomIds } from '../../src/core/index.js';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAccess, createAssets } from '../../src/access/index.js';
import { createBrowserSessions } from '../../src/sessions/index.js';
import { useTestDatabase } from '../support/databases.js';
import { buildStack, CLI, eventually, type SessionStack, usePoolAndPortal } from './support.js';

// Concurrency limits are counted in the database under locks: these tests start many sessions at
// once (on PostgreSQL too, with TEST_DATABASE_URL) and count who got in.

const shared = usePoolAndPortal();

type Outcome = { ok: true; id: string } | { ok: false; code: string; status: number; message: string; data: unknown };
const attempt = (p: Promise<{ id: string }>): Promise<Outcome> =>
  p.then(
    (r) => ({ ok: true, id: r.id }),
    (e: { code: string; status: number; publicMessage: string; data: unknown }) => ({ ok: false, code: e.code, status: e.status, message: e.publicMessage, data: e.data }),
  );

describe('browser session limits', () => {
  const fresh = useTestDatabase();
  let stack: SessionStack;

  beforeEach(async () => {
    stack = await buildStack(fresh, shared.pool, shared.portalUrl, { asset: { policy: { maxSessionsPerCredential: 2 } } });
    fresh.defer(() => stack.close());
  });

  it('lets exactly N of 10 concurrent starts use one credential; the others get 409 credential_in_use with the count', async () => {
    const operators = await Promise.all(Array.from({ length: 10 }, (_, i) => stack.operator(`op${i}`)));
    const outcomes = await Promise.all(operators.map((p) => attempt(stack.sessions.start(p, 'bank'))));
    const won = outcomes.filter((o) => o.ok);
    const lost = outcomes.filter((o): o is Extract<Outcome, { ok: false }> => !o.ok);
    expect(won).toHaveLength(2);
    expect(lost).toHaveLength(8);
    for (const o of lost) {
      expect(o).toMatchObject({ code: 'credential_in_use', status: 409, data: { inUse: 2, limit: 2 } });
      expect(o.message).toContain('in use by 2 sessions');
    }
    expect(await stack.auditRows({ action: 'browser_session.refused' })).toHaveLength(8);
    expect(await stack.auditRows({ action: 'browser_session.started' })).toHaveLength(2);

    // One ends: its place is free again.
    const first = won[0] as { id: string };
    const owner = operators[outcomes.findIndex((o) => o.ok && o.id === first.id)]!;
    await stack.sessions.end(first.id, owner);
    expect(await attempt(stack.sessions.start(operators.find((p) => p !== owner)!, 'bank'))).toMatchObject({ ok: true });

    // Another asset naming the same vault entry counts against the same credential (2 live on bank).
    await stack.assets.create({ id: 'bank-2', name: 'Bank 2', url: `${shared.portalUrl}/login`, credential: 'bank-login', allowInsecureHttp: true, policy: { maxSessionsPerCredential: 3 } }, CLI);
    const other = await stack.operator('other', 'bank-2');
    expect(await attempt(stack.sessions.start(other, 'bank-2'))).toMatchObject({ ok: true });
    expect(await attempt(stack.sessions.start(other, 'bank-2'))).toMatchObject({ ok: false, code: 'credential_in_use', data: { inUse: 3, limit: 3 } });
  });

  it('holds the asset limit (asset_in_use) and a grant’s own limit (forbidden, audited) under concurrent starts', async () => {
    await stack.assets.update('bank', { policy: { maxSessions: 1, maxSessionsPerCredential: 10 } }, CLI);
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => stack.operator(n)));
    const outcomes = await Promise.all([a, b, c].map((p) => attempt(stack.sessions.start(p!, 'bank'))));
    expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
    for (const o of outcomes.filter((x) => !x.ok)) expect(o).toMatchObject({ code: 'asset_in_use', status: 409, data: { inUse: 1, limit: 1 } });

    await stack.assets.update('bank', { policy: { maxSessions: null } }, CLI);
    const dana = await stack.operator('dana');
    const [grant] = await stack.grants.list({ subjectId: dana.id });
    await stack.grants.update(grant!.id, { maxConcurrent: 1 }, CLI);
    const mine = await Promise.all(Array.from({ length: 5 }, () => attempt(stack.sessions.start(dana, 'bank'))));
    expect(mine.filter((o) => o.ok)).toHaveLength(1);
    for (const o of mine.filter((x) => !x.ok)) expect(o).toMatchObject({ code: 'forbidden' });
    const denials = await stack.auditRows({ action: 'auth.denied' });
    expect(denials.length).toBeGreaterThanOrEqual(4);
    expect(denials.every((d) => d.details.reason === 'max_concurrent_sessions')).toBe(true);
  });

  it('refuses a caller without connect (audited) and an unknown asset alike, and starts nothing', async () => {
    const nobody = { kind: 'user' as const, id: randomIds.uuid(), name: 'nobody', roles: ['operator' as const], groups: [], via: 'session' as const, mfa: true };
    await expect(stack.sessions.start(nobody, 'bank')).rejects.toMatchObject({ code: 'forbidden' });
    await expect(stack.sessions.start(nobody, 'no-such-asset')).rejects.toMatchObject({ code: 'forbidden' });
    await expect(stack.sessions.start(nobody, "'; DROP TABLE browser_sessions; --")).rejects.toMatchObject({ code: 'forbidden' });
    expect((await stack.auditRows({ action: 'auth.denied' })).map((r) => r.details.reason)).toEqual(['no_grant', 'unknown_asset', 'unknown_asset']);
    expect(await stack.sessions.list(nobody)).toEqual([]);
    expect(shared.pool.size).toBe(0);
  });

  it('ends at start the sessions a crashed node left live (node_restart); the old process closes its browser on its next tick', async () => {
    const alice = await stack.operator('alice');
    const left = await stack.sessions.start(alice, 'bank');
    // The same node id starting again (the first instance is the one that "crashed").
    const db = fresh.db.database.db;
    const again = createBrowserSessions({
      db,
      access: createAccess({ trail: stack.trail, db }),
      assets: createAssets({ db, trail: stack.trail, clock: { now: () => Date.now() } }),
      vault: stack.vault,
      pool: shared.pool,
      recordings: stack.recordings,
      trail: stack.trail,
      clock: { now: () => Date.now() },
      ids: randomIds,
      nodeId: 'test-node',
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    fresh.defer(() => again.shutdown());
    expect(await again.recover()).toBe(1);
    expect(await again.recover()).toBe(0);
    expect(await again.get(left.id, alice)).toMatchObject({ state: 'ended', endReason: 'node_restart', endMessage: 'the node restarted' });
    const [end] = await stack.auditRows({ action: 'browser_session.ended' });
    expect(end).toMatchObject({ actor_id: 'test-node', details: { reason: 'node_restart', from: 'active' } });
    await eventually(async () => shared.pool.size === 0, 10_000, 'the old instance to close its browser context');
    // Closing it there recorded nothing more.
    expect(await stack.auditRows({ action: 'browser_session.ended' })).toHaveLength(1);
  });
});
