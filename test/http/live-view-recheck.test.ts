import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { AppError } from '../../src/core/index.js';
import { runLiveConnection } from '../../src/http/live-view/connection.js';
import type { LiveBrowser, LiveInputEvent, LiveSessions } from '../../src/http/live-view/ports.js';
import { createViewerSlots } from '../../src/http/live-view/viewer-slots.js';
import { createWatcherRoster } from '../../src/http/live-view/watchers.js';
import type { Principal } from '../../src/identity/index.js';
import { LiveClient } from './live-view-fixtures.js';

// The live view's connection against a stand-in session, over a real socket: each browser operation runs only
// under a check of the viewer's access that is recent enough, and a refused or failed check drops it and closes
// the view. (live-view-access-revoked.test.ts shows the same on the real server, Chromium and database.)

const OWNER: Principal = { kind: 'user', id: 'owner-1', name: 'Owner', roles: ['operator'], groups: [], via: 'session', mfa: true };

interface Stand {
  client: LiveClient;
  inputs: LiveInputEvent[];
  /** Calls of recheck() after the attach. */
  rechecks: () => number;
  /** What the next checks answer: pass, refuse (not_found, as sessions/ answers a refusal) or fail (the store is down). */
  answer: (next: 'pass' | 'refuse' | 'fail') => void;
  /** The viewer each recheck() was asked about. */
  checkedAs: Array<Principal | undefined>;
  /** What the web session behind the view says next: the viewer as it is now, gone (null), or no answer (the store is down). */
  session: (next: Principal | null | 'fail') => void;
  /** For each lookup of the web session: whether the viewer had sent input since the check before (activity). */
  lookups: boolean[];
}

const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    for (const ws of server.clients) ws.terminate();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** `followSession`: the view follows a web session (as a cookie viewer's does), which answers `session(...)`. */
async function stand(accessRecheckMs: number, options: { followSession?: boolean } = {}): Promise<Stand> {
  const inputs: LiveInputEvent[] = [];
  let rechecks = 0;
  let answer: 'pass' | 'refuse' | 'fail' = 'pass';
  const checkedAs: Array<Principal | undefined> = [];
  let session: Principal | null | 'fail' = OWNER;
  const lookups: boolean[] = [];
  const browser: LiveBrowser = {
    startScreencast: () => Promise.resolve(() => Promise.resolve()),
    input: (event) => {
      inputs.push(event);
      return Promise.resolve();
    },
    paste: () => Promise.resolve('inserted'),
    onCopy: () => () => undefined,
    tabs: () => [],
    switchTab: () => Promise.resolve(),
    resize: () => Promise.resolve(),
    closed: false,
  };
  const sessions: LiveSessions = {
    get: () => Promise.resolve({ id: 's1', userId: OWNER.id, state: 'active', endReason: null }),
    attach: () =>
      Promise.resolve({
        record: { id: 's1', userId: OWNER.id, state: 'active', endReason: null },
        browser,
        touch: () => undefined,
        onEnd: () => () => undefined,
        recheck: (viewer?: Principal) => {
          rechecks++;
          checkedAs.push(viewer);
          if (answer === 'refuse') return Promise.reject(new AppError('not_found'));
          if (answer === 'fail') return Promise.reject(new AppError('database_unavailable'));
          return Promise.resolve();
        },
      }),
  };
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  servers.push(server);
  await once(server, 'listening');
  server.on('connection', (socket) =>
    runLiveConnection({
      socket,
      sessions,
      principal: OWNER,
      sessionId: 's1',
      context: {},
      log: pino({ level: 'silent' }),
      slots: createViewerSlots(),
      roster: createWatcherRoster(),
      accessRecheckMs,
      ...(options.followSession
        ? {
            currentViewer: (active: boolean) => {
              lookups.push(active);
              return session === 'fail' ? Promise.reject(new AppError('shared_state_unavailable')) : Promise.resolve(session);
            },
          }
        : {}),
    }),
  );
  const client = new LiveClient(new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`), true);
  await client.until(() => client.text('state') !== undefined, 'the state message');
  return { client, inputs, rechecks: () => rechecks, answer: (next) => void (answer = next), checkedAs, session: (next) => void (session = next), lookups };
}

describe('live view: input runs only under a recent check of the viewer’s access', () => {
  it('makes no access check per input while the last one is recent: many mouse moves, no check beyond the attach', async () => {
    const { client, inputs, rechecks } = await stand(3_600_000);
    for (let i = 0; i < 200; i++) client.send({ type: 'mouse', action: 'move', x: i, y: 1 });
    await vi.waitFor(() => expect(inputs).toHaveLength(200), { timeout: 10_000 });
    expect(rechecks()).toBe(0);
    client.close();
  });

  // A period of 0: every operation waits for a check of its own (a passed check of the same millisecond would otherwise let one through).
  it('drops the input that follows a withdrawn grant and closes the view with access_revoked (4403)', async () => {
    const { client, inputs, answer } = await stand(0);
    client.send({ type: 'text', text: 'before' });
    await vi.waitFor(() => expect(inputs).toEqual([{ type: 'text', text: 'before' }]), { timeout: 10_000 });
    answer('refuse');
    client.send({ type: 'text', text: 'after' });
    expect(await client.closed).toEqual({ code: 4403, reason: 'access revoked' });
    expect(client.text('error')).toMatchObject({ code: 'access_revoked' });
    expect(inputs).toEqual([{ type: 'text', text: 'before' }]);
  });

  it('fails closed: an access check that cannot be made drops the input and closes the view as unavailable (4503)', async () => {
    const { client, inputs, answer } = await stand(0);
    answer('fail');
    client.send({ type: 'text', text: 'unchecked' });
    client.send({ type: 'paste', text: 'unchecked paste' });
    expect(await client.closed).toEqual({ code: 4503, reason: 'unavailable' });
    expect(client.text('error')).toMatchObject({ code: 'unavailable' });
    expect(inputs).toEqual([]);
  });

  it('checks on its own period, so a view that sends nothing (a watcher, an idle controller) is closed too', async () => {
    const { client, answer } = await stand(20);
    answer('refuse');
    expect(await client.closed).toEqual({ code: 4403, reason: 'access revoked' });
  });
  it('checks a viewer who follows a web session as that session has them now (groups changed since the upgrade)', async () => {
    const { client, inputs, checkedAs, session } = await stand(0, { followSession: true });
    const moved: Principal = { ...OWNER, groups: [{ id: 'g-2', name: 'clerks' }] };
    session(moved);
    client.send({ type: 'text', text: 'checked' });
    await vi.waitFor(() => expect(inputs).toEqual([{ type: 'text', text: 'checked' }]), { timeout: 10_000 });
    expect(checkedAs).toContainEqual(moved);
    client.close();
  });

  it('tells the web session of the viewer’s input, so someone working only in the view is not signed out for idleness', async () => {
    const { client, inputs, lookups } = await stand(0, { followSession: true });
    const before = lookups.length;
    client.send({ type: 'text', text: 'working' });
    await vi.waitFor(() => expect(inputs).toEqual([{ type: 'text', text: 'working' }]), { timeout: 10_000 });
    expect(lookups.slice(before)).toContain(true);
    client.close();
  });

  it('drops the input that follows the end of the viewer’s web session and closes the view as signed out (4401)', async () => {
    const { client, inputs, session, rechecks } = await stand(0, { followSession: true });
    session(null);
    const before = rechecks();
    client.send({ type: 'text', text: 'after sign-out' });
    expect(await client.closed).toEqual({ code: 4401, reason: 'signed out' });
    expect(client.text('error')).toMatchObject({ code: 'signed_out' });
    expect(inputs).toEqual([]);
    // Nobody is left to decide for: no access decision is made for a session that has ended.
    expect(rechecks()).toBe(before);
  });

  it('fails closed when the web session cannot be read: the input is dropped and the view closes as unavailable (4503)', async () => {
    const { client, inputs, session } = await stand(0, { followSession: true });
    session('fail');
    client.send({ type: 'text', text: 'unchecked' });
    expect(await client.closed).toEqual({ code: 4503, reason: 'unavailable' });
    expect(inputs).toEqual([]);
  });
});
