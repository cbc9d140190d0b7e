import { beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/databases.js';
import { ManualClock } from '../support/manual-clock.js';
import { buildStack, CANARY_PASSWORD, CLI, eventually, type SessionStack, usePoolAndPortal } from './support.js';

// The lifecycle against real parts: PGlite or PostgreSQL, the audit trail, the vault, a real
// Chromium and the demo portal. Timeouts run on a manual clock (the tick reads it).

const shared = usePoolAndPortal();

describe('browser sessions: starting → logging_in → active → ended', () => {
  const fresh = useTestDatabase();
  let stack: SessionStack;
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock(Date.now());
    stack = await buildStack(fresh, shared.pool, shared.portalUrl, { clock });
    fresh.defer(() => stack.close());
  });

  it('logs in with the vault credential, records every transition, and ends when its owner ends it', async () => {
    const alice = await stack.operator('alice');
    const started = await stack.sessions.start(alice, 'bank', { requestId: 'req-1' });
    expect(started).toMatchObject({ assetId: 'bank', userId: alice.id, state: 'active', endReason: null, credential: 'bank-login', nodeId: 'test-node' });
    expect(started.activeAt).not.toBeNull();
    expect(await stack.sessions.get(started.id, alice)).toMatchObject({ state: 'active' });

    const ended = await stack.sessions.end(started.id, alice);
    expect(ended).toMatchObject({ state: 'ended', endReason: 'user', endMessage: null });
    await expect(stack.sessions.end(started.id, alice)).rejects.toMatchObject({ code: 'session_ended', status: 410 });
    await expect(stack.sessions.attach(started.id, alice, 'control')).rejects.toMatchObject({ code: 'session_ended' });

    // Blocked requests (Chromium's own background calls) may come in between; they have their own test.
    const rows = (await stack.auditRows({ target: started.id })).filter((r) => r.action !== 'browser_session.blocked');
    expect(rows.map((r) => r.action)).toEqual(['browser_session.started', 'browser_session.login_started', 'browser_session.login_succeeded', 'browser_session.ended']);
    expect(rows[0]!.details).toMatchObject({ assetId: 'bank', vaultEntry: 'bank-login', node: 'test-node', via: 'session' });
    expect(rows[2]!.details).toMatchObject({ injection: expect.stringMatching(/^(intercept|fill)$/) });
    expect(rows[3]!.details).toMatchObject({ reason: 'user', from: 'active', userId: alice.id });
    expect(rows.every((r) => r.actor_id === alice.id)).toBe(true);
    // The vault recorded the read for this session (and only the browser's login asked for it).
    const reads = await stack.auditRows({ action: 'vault.secret.read' });
    expect(reads).toHaveLength(1);
    expect(reads[0]!.details).toMatchObject({ session: started.id, purpose: 'login' });

    expect(await stack.auditText()).not.toContain(CANARY_PASSWORD);
    expect(stack.logs.text()).not.toContain(CANARY_PASSWORD);
    expect(JSON.stringify(ended)).not.toContain(CANARY_PASSWORD);
  });

  it('attaches the owner to control and a holder of watch to watch; anyone else is answered not_found (recorded)', async () => {
    const alice = await stack.operator('alice');
    const walter = await stack.operator('walter', 'bank', ['watch']);
    const mallory = await stack.operator('mallory');
    const session = await stack.sessions.start(alice, 'bank');

    const control = await stack.sessions.attach(session.id, alice, 'control', { requestId: 'ws-1' });
    expect(control.record).toMatchObject({ id: session.id, state: 'active' });
    expect(control.browser.closed).toBe(false);
    const watch = await stack.sessions.attach(session.id, walter, 'watch');
    await expect(stack.sessions.attach(session.id, walter, 'control')).rejects.toMatchObject({ code: 'not_found' });
    await expect(stack.sessions.attach(session.id, mallory, 'watch')).rejects.toMatchObject({ code: 'not_found' });
    await expect(stack.sessions.attach(session.id, mallory, 'control')).rejects.toMatchObject({ code: 'not_found' });
    await expect(stack.sessions.get(session.id, mallory)).rejects.toMatchObject({ code: 'not_found' });
    await expect(stack.sessions.end(session.id, mallory)).rejects.toMatchObject({ code: 'not_found' });
    expect(await stack.sessions.get(session.id, walter)).toMatchObject({ id: session.id });
    await expect(stack.sessions.end(session.id, walter)).rejects.toMatchObject({ code: 'forbidden' });

    const attached = await stack.auditRows({ action: 'browser_session.attached' });
    expect(attached.map((r) => [r.actor_id, r.details.mode])).toEqual([
      [alice.id, 'control'],
      [walter.id, 'watch'],
    ]);
    const denied = await stack.auditRows({ action: 'auth.denied' });
    expect(denied.map((r) => r.actor_id)).toEqual([mallory.id, walter.id]);

    const seen: string[] = [];
    watch.onEnd((reason) => seen.push(`watch:${reason}`));
    control.onEnd((reason) => seen.push(`control:${reason}`));
    await stack.sessions.end(session.id, alice);
    expect(seen.sort()).toEqual(['control:user', 'watch:user']);
    expect(watch.browser.closed).toBe(true);
  });

  it('ends a session whose login fails with login_failed and the step, never the value', async () => {
    const alice = await stack.operator('alice');
    await stack.vault.set({ entryId: 'bank-login', values: new Map([['username', Buffer.from('nobody')], ['password', Buffer.from(`${CANARY_PASSWORD}-wrong`)]]) }, CLI);
    await stack.assets.update('bank', { failureCheck: { selector: '.error' } }, CLI);
    const error = await stack.sessions.start(alice, 'bank').then(
      () => ({ code: 'none', status: 0, publicMessage: '' }),
      (e: unknown) => e as { code: string; status: number; publicMessage: string },
    );
    expect(error).toMatchObject({ code: 'login_failed', status: 502 });
    expect(error.publicMessage).toMatch(/^The portal login failed at step /);
    const [session] = await stack.sessions.list(alice);
    expect(session).toMatchObject({ state: 'ended', endReason: 'login_failed' });
    expect(session!.endMessage).toBeTruthy();
    const actions = (await stack.auditRows({ target: session!.id })).map((r) => r.action).filter((a) => a !== 'browser_session.blocked');
    expect(actions).toEqual(['browser_session.started', 'browser_session.login_started', 'browser_session.login_failed', 'browser_session.ended']);
    const everywhere = `${await stack.auditText()}\n${stack.logs.text()}\n${JSON.stringify(session)}\n${error.publicMessage}`;
    expect(everywhere).not.toContain(CANARY_PASSWORD);
    expect(shared.pool.size).toBe(0);
  });

  it('ends an idle session after the asset’s idle timeout; input through attach keeps it alive', async () => {
    await stack.assets.update('bank', { policy: { idleTimeoutMinutes: 10 } }, CLI);
    const alice = await stack.operator('alice');
    const session = await stack.sessions.start(alice, 'bank');
    const handle = await stack.sessions.attach(session.id, alice, 'control');
    const endedWith: string[] = [];
    handle.onEnd((reason) => endedWith.push(reason));
    clock.advance(9 * 60_000);
    handle.touch();
    clock.advance(9 * 60_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await stack.sessions.get(session.id, alice)).state).toBe('active');
    clock.advance(60_000 + 1);
    const ended = await eventually(async () => {
      const r = await stack.sessions.get(session.id, alice);
      return r.state === 'ended' ? r : undefined;
    });
    expect(ended).toMatchObject({ endReason: 'idle_timeout', endMessage: 'no input for 10 minutes' });
    expect(endedWith).toEqual(['idle_timeout']);
    expect(handle.browser.closed).toBe(true);
    const [end] = await stack.auditRows({ action: 'browser_session.ended' });
    expect(end).toMatchObject({ actor_id: 'test-node', details: { reason: 'idle_timeout' } });
  });

  it('ends a session at the maximum duration, whatever the input', async () => {
    await stack.assets.update('bank', { policy: { maxDurationMinutes: 30, idleTimeoutMinutes: 20 } }, CLI);
    const alice = await stack.operator('alice');
    const session = await stack.sessions.start(alice, 'bank');
    const handle = await stack.sessions.attach(session.id, alice, 'control');
    for (let i = 0; i < 3; i++) {
      clock.advance(10 * 60_000);
      handle.touch();
    }
    const ended = await eventually(async () => {
      const r = await stack.sessions.get(session.id, alice);
      return r.state === 'ended' ? r : undefined;
    });
    expect(ended).toMatchObject({ endReason: 'max_duration' });
  });

  it('ends the sessions of a crashed browser with browser_crashed, and the next session works', async () => {
    const alice = await stack.operator('alice');
    const first = await stack.sessions.start(alice, 'bank');
    const pids = shared.browserPids();
    expect(pids).toHaveLength(1);
    process.kill(pids[0]!, 'SIGKILL');
    const ended = await eventually(async () => {
      const r = await stack.sessions.get(first.id, alice);
      return r.state === 'ended' ? r : undefined;
    });
    expect(ended.endReason).toBe('browser_crashed');
    const second = await stack.sessions.start(alice, 'bank');
    expect(second.state).toBe('active');
    await stack.sessions.end(second.id, alice);
  });

  it('ends every live session with shutdown, and refuses new starts', async () => {
    const alice = await stack.operator('alice');
    await stack.assets.update('bank', { policy: { maxSessionsPerCredential: 2 } }, CLI);
    const a = await stack.sessions.start(alice, 'bank');
    const b = await stack.sessions.start(alice, 'bank');
    await stack.sessions.shutdown();
    for (const id of [a.id, b.id]) expect(await stack.sessions.get(id, alice)).toMatchObject({ state: 'ended', endReason: 'shutdown' });
    await expect(stack.sessions.start(alice, 'bank')).rejects.toMatchObject({ code: 'shutting_down' });
    expect(shared.pool.size).toBe(0);
  });
});
