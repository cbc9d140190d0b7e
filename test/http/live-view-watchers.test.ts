import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWatcherRoster, MAX_WATCHER_NAMES, type WatchersMessage } from '../../src/http/live-view/watchers.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sessionCaller, type Caller } from './admin-callers.js';
import { addPortalAsset, type LiveClient, liveViewOpener, startPortalSite, startSession, type PortalSite } from './live-view-fixtures.js';

describe('the watcher roster (who watches a session, told to whoever controls it)', () => {
  const view = (mode: 'control' | 'watch', name: string) => {
    const got: WatchersMessage[] = [];
    return { view: { mode, name, send: (m: WatchersMessage) => got.push(m) }, got };
  };

  it('tells a controller the watchers when it joins and whenever a watcher joins or leaves; never tells a watcher', () => {
    const roster = createWatcherRoster();
    const owner = view('control', 'Olga');
    const leaveOwner = roster.join('s1', owner.view);
    expect(owner.got).toEqual([{ type: 'watchers', count: 0, names: [] }]);
    const ada = view('watch', 'Ada');
    const leaveAda = roster.join('s1', ada.view);
    const adaAgain = view('watch', 'Ada');
    const leaveAdaAgain = roster.join('s1', adaAgain.view);
    // Another session's watcher is not this one's.
    roster.join('s2', view('watch', 'Bruno').view);
    expect(owner.got.slice(1)).toEqual([
      { type: 'watchers', count: 1, names: ['Ada'] },
      { type: 'watchers', count: 2, names: ['Ada'] },
    ]);
    leaveAda();
    leaveAda(); // a second call does nothing
    leaveAdaAgain();
    expect(owner.got.slice(3)).toEqual([
      { type: 'watchers', count: 1, names: ['Ada'] },
      { type: 'watchers', count: 0, names: [] },
    ]);
    // A second controller learns who watches now; a controller leaving tells nobody.
    const tab = view('control', 'Olga');
    roster.join('s1', tab.view);
    expect(tab.got).toEqual([{ type: 'watchers', count: 0, names: [] }]);
    leaveOwner();
    expect(tab.got).toHaveLength(1);
    expect(ada.got).toEqual([]);
  });

  it('names at most a few watchers, each cut to 100 characters', () => {
    const roster = createWatcherRoster();
    const owner = view('control', 'Olga');
    roster.join('s', owner.view);
    for (let i = 0; i < 8; i++) roster.join('s', view('watch', `${i}${'w'.repeat(150)}`).view);
    const last = owner.got.at(-1)!;
    expect(last.count).toBe(8);
    expect(last.names).toHaveLength(MAX_WATCHER_NAMES);
    expect(last.names.every((name) => name.length === 100)).toBe(true);
  });
});

describe('live view: the controller is told when someone watches (real Chromium)', () => {
  const PASSWORD = 'watchers-canary-Pa55word-91c2';
  let ts: TestServer;
  let site: PortalSite;
  let owner: Caller;
  let watcher: Caller;
  const clients: LiveClient[] = [];
  const open = liveViewOpener(() => ts, clients);

  beforeAll(async () => {
    site = await startPortalSite({ username: 'alice', password: PASSWORD });
    ts = await startTestServer({ WEBASSET_API_RATE_LIMIT: '100000' });
    owner = await sessionCaller(ts, 'watched-owner', ['operator']);
    watcher = await sessionCaller(ts, 'watching-admin', ['admin']);
    await addPortalAsset(ts, site, { assetId: 'watched-portal', password: PASSWORD, connect: [owner], watch: [watcher] });
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await ts?.stop();
    await site?.close();
  });

  it('sends {type:"watchers"} to the control view as a watch view attaches and detaches, and never to the watcher', async () => {
    const sessionId = await startSession(ts, owner, 'watched-portal');
    const control = open(owner, sessionId);
    await control.until(() => control.text('watchers') !== undefined, 'the first watchers message');
    expect(control.text('watchers')).toEqual({ type: 'watchers', count: 0, names: [] });
    const watching = open(watcher, sessionId);
    await watching.until(() => watching.frames.length >= 1, 'a frame for the watcher');
    await control.until(() => control.texts.some((m) => m.type === 'watchers' && m.count === 1), 'one watcher');
    expect(control.texts.filter((m) => m.type === 'watchers').at(-1)).toEqual({ type: 'watchers', count: 1, names: ['watching-admin'] });
    watching.close();
    await watching.closed;
    await control.until(() => control.texts.filter((m) => m.type === 'watchers').at(-1)?.count === 0, 'the watcher gone');
    expect(watching.text('watchers')).toBeUndefined();
    control.close();
    await control.closed;
  });
});
