import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/databases.js';
import { buildStack, refusing, usePoolAndPortal } from './support.js';

// No audit, no action: a start whose steps cannot be recorded opens nothing and reads no credential;
// an end that cannot be recorded still closes the session (ending is the fail-closed direction).

const shared = usePoolAndPortal();

describe('browser sessions when the audit trail refuses', () => {
  const fresh = useTestDatabase();

  async function stackRefusing(...actions: string[]) {
    const failing = new Set(actions);
    const stack = await buildStack(fresh, shared.pool, shared.portalUrl, { sessionsTrail: refusing(failing) });
    fresh.defer(() => stack.close());
    return { stack, failing };
  }

  it('takes the reservation back when the start cannot be recorded: no row, no context, no credential read', async () => {
    const { stack } = await stackRefusing('browser_session.started');
    const alice = await stack.operator('alice');
    await expect(stack.sessions.start(alice, 'bank')).rejects.toMatchObject({ code: 'audit_unavailable', status: 503 });
    expect(await stack.sessions.list(alice)).toEqual([]);
    expect(shared.pool.size).toBe(0);
    expect(await stack.auditRows({ action: 'vault.secret.read' })).toEqual([]);
  });

  it('ends the session before the login when the login cannot be recorded', async () => {
    const { stack } = await stackRefusing('browser_session.login_started');
    const alice = await stack.operator('alice');
    await expect(stack.sessions.start(alice, 'bank')).rejects.toMatchObject({ code: 'audit_unavailable' });
    const [session] = await stack.sessions.list(alice);
    expect(session).toMatchObject({ state: 'ended', endReason: 'login_failed', endMessage: 'the login could not be recorded' });
    expect(shared.pool.size).toBe(0);
    expect(await stack.auditRows({ action: 'vault.secret.read' })).toEqual([]);
  });

  it('closes a session whose end cannot be recorded, and says so in the log', async () => {
    const { stack, failing } = await stackRefusing();
    const alice = await stack.operator('alice');
    const session = await stack.sessions.start(alice, 'bank');
    failing.add('browser_session.ended');
    expect(await stack.sessions.end(session.id, alice)).toMatchObject({ state: 'ended', endReason: 'user' });
    expect(shared.pool.size).toBe(0);
    expect(stack.logs.text()).toContain('could not record the end of a browser session');
  });
});
