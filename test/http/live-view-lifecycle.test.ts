import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../support/manual-clock.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sessionCaller, type Caller } from './admin-callers.js';
import { addPortalAsset, LiveClient, startPortalSite, startSession, type PortalSite } from './live-view-fixtures.js';

/** Input over the live view keeps a session alive; idle timeout and shutdown reach the viewer as an end with its reason. */
describe('live view: session lifetime seen from the viewer (real Chromium)', () => {
  const PASSWORD = 'lifecycle-canary-Pa55word-5c0a';
  const clock = new ManualClock();
  let ts: TestServer;
  let site: PortalSite;
  let owner: Caller;
  let stopped = false;

  beforeAll(async () => {
    site = await startPortalSite({ username: 'alice', password: PASSWORD });
    ts = await startTestServer({}, { clock });
    owner = await sessionCaller(ts, 'lifecycle-owner', ['operator']);
    await addPortalAsset(ts, site, { assetId: 'lifecycle-portal', password: PASSWORD, connect: [owner], idleTimeoutMinutes: 1 });
  });
  afterAll(async () => {
    if (!stopped) await ts?.stop();
    await site?.close();
  });

  /** Messages are handled in order: once the reply to a later invalid message is here, everything before it was handled. */
  async function handled(viewer: LiveClient): Promise<void> {
    const errors = () => viewer.texts.filter((m) => m.type === 'error').length;
    const before = errors();
    viewer.send('marker');
    await viewer.until(() => errors() > before, 'the marker reply');
  }

  it('counts input as activity for the idle timeout, and ends the viewer with idle_timeout after a minute without', async () => {
    const sessionId = await startSession(ts, owner, 'lifecycle-portal');
    const viewer = LiveClient.open(ts.url, sessionId, owner.headers('GET').cookie!);
    await viewer.until(() => viewer.frames.length > 0, 'a frame');
    clock.advance(50_000);
    viewer.send({ type: 'mouse', action: 'move', x: 5, y: 5 });
    await handled(viewer);
    // 100 s after the start but 50 s after the input: the sweep (every second) must leave it alone.
    clock.advance(50_000);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(viewer.text('ended')).toBeUndefined();
    clock.advance(61_000);
    expect(await viewer.closed).toEqual({ code: 4410, reason: 'session ended: idle_timeout' });
    expect(viewer.texts.at(-1)).toEqual({ type: 'ended', reason: 'idle_timeout' });
  });

  it('closes open viewers when the server shuts down, and the shutdown does not wait on them', async () => {
    const sessionId = await startSession(ts, owner, 'lifecycle-portal');
    const viewer = LiveClient.open(ts.url, sessionId, owner.headers('GET').cookie!, { autoAck: false });
    await viewer.until(() => viewer.frames.length > 0, 'a frame');
    stopped = true;
    await ts.stop();
    const closed = await viewer.closed;
    // Either the session ended first (shutdown) or the server went away first: both are said plainly.
    if (closed.code === 4410) {
      expect(closed.reason).toBe('session ended: shutdown');
      expect(viewer.texts.at(-1)).toEqual({ type: 'ended', reason: 'shutdown' });
    } else {
      expect(closed).toEqual({ code: 1001, reason: 'server shutting down' });
    }
  });
});
