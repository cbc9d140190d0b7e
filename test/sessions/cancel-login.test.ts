import type { AuditTrail } from '../../src/audit/index.js';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/databases.js';
import { buildStack, CANARY_PASSWORD, eventually, usePoolAndPortal } from './support.js';

// Ending a session while its login runs stops the login at once, and no credential is read once the
// end began. The login's deadline is set far beyond the test's own timeout (60 s), so a login that is
// not stopped fails the test by hanging; no wall-clock limit is asserted.
const FAR_DEADLINE_MS = 30 * 60_000;

const shared = usePoolAndPortal();

/** The login holds here: the automatic recipe signs in, then waits for an element the portal never shows. */
const NEVER = { selector: '#never-shown-by-the-portal' };

describe('ending a session during its login', () => {
  const fresh = useTestDatabase();

  it.each([
    ['its owner', 'user'],
    ['an administrator', 'admin'],
    ['a shutdown', 'shutdown'],
  ] as const)('stops the login promptly when %s ends it', async (_who, reason) => {
    const stack = await buildStack(fresh, shared.pool, shared.portalUrl, { asset: { successCheck: NEVER }, loginTimeoutMs: FAR_DEADLINE_MS });
    fresh.defer(() => stack.close());
    const alice = await stack.operator('alice');
    const starting = stack.sessions.start(alice, 'bank').then(
      () => 'active',
      (error: unknown) => (error as { code: string }).code,
    );
    // The credential has been read and the login is polling its success check.
    const [session] = await eventually(async () => {
      const reads = await stack.auditRows({ action: 'vault.secret.read' });
      const list = await stack.sessions.list(alice);
      return reads.length === 1 && list[0]?.state === 'logging_in' ? list : undefined;
    });
    // Long enough for the automatic recipe to submit: the runner is then polling its success check.
    await new Promise((resolve) => setTimeout(resolve, 1000));

    if (reason === 'user') await stack.sessions.end(session!.id, alice);
    else if (reason === 'admin') await stack.sessions.end(session!.id, { kind: 'user', id: 'admin-1', name: 'Admin', roles: ['admin'], groups: [], via: 'session', mfa: true });
    else await stack.sessions.shutdown();
    expect(await starting).toBe('session_ended');

    expect(await stack.sessions.get(session!.id, alice)).toMatchObject({ state: 'ended', endReason: reason });
    expect(shared.pool.size).toBe(0);
    const actions = (await stack.auditRows({ target: session!.id })).map((r) => r.action).filter((a) => a !== 'browser_session.blocked');
    expect(actions).toEqual(['browser_session.started', 'browser_session.login_started', 'browser_session.ended']);
    expect(await stack.auditRows({ action: 'vault.secret.read' })).toHaveLength(1);
    expect(`${await stack.auditText()}\n${stack.logs.text()}`).not.toContain(CANARY_PASSWORD);
  });

  it('reads no credential when the end begins before the login does', async () => {
    let loginRecording: () => void = () => undefined;
    const recordingLogin = new Promise<void>((resolve) => (loginRecording = resolve));
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    // The record of login_started is held until the test has begun the end, and the end's own
    // record is slow: the login goes on while the end is being recorded, before the context closes.
    const holding = (trail: AuditTrail): AuditTrail => ({
      ...trail,
      record: async (event) => {
        if (event.action === 'browser_session.login_started') {
          loginRecording();
          await released;
        }
        if (event.action === 'browser_session.ended') await new Promise((resolve) => setTimeout(resolve, 1000));
        return trail.record(event);
      },
    });
    const stack = await buildStack(fresh, shared.pool, shared.portalUrl, { sessionsTrail: holding });
    fresh.defer(() => stack.close());
    const alice = await stack.operator('alice');
    const starting = stack.sessions.start(alice, 'bank').then(
      () => 'active',
      (error: unknown) => (error as { code: string }).code,
    );
    await recordingLogin;
    const [session] = await stack.sessions.list(alice);
    const ending = stack.sessions.end(session!.id, alice);
    release();
    await ending;
    expect(await starting).toBe('session_ended');
    expect(await stack.sessions.get(session!.id, alice)).toMatchObject({ state: 'ended', endReason: 'user' });
    expect(await stack.auditRows({ action: 'vault.secret.read' })).toEqual([]);
    expect(shared.pool.size).toBe(0);
  });
});
