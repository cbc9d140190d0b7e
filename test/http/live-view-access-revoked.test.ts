import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { call, CLI, sessionCaller, type Caller } from './admin-callers.js';
import { addPortalAsset, type LiveClient, liveViewOpener, startPortalSite, startSession, type PortalSite } from './live-view-fixtures.js';

// An open live view holds only as long as the grant it was attached under: a withdrawn grant (deleted,
// or a time window that closed, or held through a group the viewer left) ends the view of the controller
// and of a watcher, recorded as auth.denied with the reason; an access check that cannot be made ends it
// too (fail closed); a web session that ends (sign-out, revoked by an administrator) ends it as `signed out`.
// Real server and Chromium.

describe('live view: an open view loses its access when the grant goes', () => {
  const PASSWORD = 'revoked-view-canary-Pa55word-7d1e';
  let ts: TestServer;
  let site: PortalSite;
  let admin: Caller;
  const clients: LiveClient[] = [];
  const open = liveViewOpener(() => ts, clients);
  /** Input as a controller sends it, over and over until the socket is gone (each one may be the one that finds out). */
  const keepMoving = async (client: LiveClient) => {
    for (let x = 10; client.ws.readyState === client.ws.OPEN; x = x === 10 ? 11 : 10) {
      client.send({ type: 'mouse', action: 'move', x, y: 10 });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const closedAs = async (client: LiveClient) => {
    await vi.waitFor(() => expect(client.ws.readyState).toBe(client.ws.CLOSED), { timeout: 20_000, interval: 50 });
    return client.closed;
  };

  async function denials(actorId: string): Promise<Array<{ target: string | null; details: Record<string, unknown> }>> {
    await ts.services.audit.trail.flush();
    const { rows } = await sql<{ details: string; target_id: string | null }>`
      SELECT details, target_id FROM audit_events WHERE action = 'auth.denied' AND actor_id = ${actorId} ORDER BY seq`.execute(ts.services.database.db);
    return rows.map((r) => ({ target: r.target_id, details: JSON.parse(r.details) as Record<string, unknown> }));
  }

  async function grantOf(caller: Caller, assetId: string): Promise<string> {
    const [grant] = await ts.services.grants.list({ assetId, subjectKind: 'user', subjectId: caller.userId! });
    return grant!.id;
  }

  /**
   * A live control view of a new session of `owner` on a new portal asset, showing frames. `throughGroup`: the owner's
   * connect grant is held by that group (the owner is made its member) instead of by the owner.
   */
  async function controlled(
    name: string,
    watchers: Caller[] = [],
    options: { throughGroup?: { id: string } } = {},
  ): Promise<{ owner: Caller; assetId: string; sessionId: string; control: LiveClient }> {
    const owner = await sessionCaller(ts, `${name}-owner`, ['operator']);
    const assetId = `${name}-portal`;
    const group = options.throughGroup;
    await addPortalAsset(ts, site, { assetId, password: PASSWORD, connect: group ? [] : [owner], watch: watchers });
    if (group) {
      await ts.services.grants.create({ subjectKind: 'group', subjectId: group.id, assetId, actions: ['connect'] }, CLI);
      // The web session's snapshot now has the group; the owner's next request follows the rotation it asks for.
      await ts.services.groups.addMember(group.id, owner.userId!, CLI);
    }
    const sessionId = await startSession(ts, owner, assetId);
    const control = open(owner, sessionId);
    await control.until(() => control.frames.length >= 1, 'a frame for the controller');
    expect(control.texts.find((m) => m.type === 'state')).toMatchObject({ mode: 'control' });
    return { owner, assetId, sessionId, control };
  }

  beforeAll(async () => {
    site = await startPortalSite({ username: 'alice', password: PASSWORD });
    ts = await startTestServer({ WEBASSET_API_RATE_LIMIT: '100000' });
    admin = await sessionCaller(ts, 'revoking-admin', ['admin']);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await ts?.stop();
    await site?.close();
  });

  it('closes the control view (access_revoked, 4403) once its connect grant is deleted through the admin API, records auth.denied, and refuses a new view', async () => {
    const { owner, assetId, sessionId, control } = await controlled('deleted-grant');
    const deleted = await call(ts, admin, 'DELETE', `/api/admin/permissions/${await grantOf(owner, assetId)}`);
    expect(deleted.status).toBe(204);

    const moving = keepMoving(control);
    expect(await closedAs(control)).toEqual({ code: 4403, reason: 'access revoked' });
    await moving;
    expect(control.texts.filter((m) => m.type === 'error')).toContainEqual({ type: 'error', code: 'access_revoked', message: expect.any(String) as unknown });
    expect(await denials(owner.userId!)).toContainEqual({ target: assetId, details: expect.objectContaining({ action: 'connect', reason: 'no_grant' }) as unknown });

    const again = open(owner, sessionId);
    expect(await again.closed).toEqual({ code: 4404, reason: 'not found' });
  });

  it('closes a watch view and stops its frames once its watch grant is deleted; the controller keeps its view', async () => {
    const watcher = await sessionCaller(ts, 'revoked-watcher', ['admin']);
    const { assetId, sessionId, control } = await controlled('watched', [watcher]);
    const watching = open(watcher, sessionId);
    await watching.until(() => watching.frames.length >= 1, 'a frame for the watcher');

    await ts.services.grants.delete(await grantOf(watcher, assetId), CLI);

    expect(await closedAs(watching)).toEqual({ code: 4403, reason: 'access revoked' });
    expect(watching.text('error')).toMatchObject({ code: 'access_revoked' });
    expect(await denials(watcher.userId!)).toContainEqual({ target: assetId, details: expect.objectContaining({ action: 'watch', reason: 'no_grant' }) as unknown });
    // The owner's own grant still holds: its view goes on.
    const framesBefore = control.frames.length;
    await control.until(() => control.frames.length > framesBefore, 'a further frame for the controller');
    expect(control.ws.readyState).toBe(control.ws.OPEN);
  });

  it('closes the control view once the grant’s time window closes (a change to the grant), with outside_time_window recorded', async () => {
    const { owner, assetId, control } = await controlled('window');
    // A minute-long window twelve hours from now, every day: closed now, whatever the time.
    const at = new Date(Date.now() + 12 * 3_600_000);
    const hhmm = (d: Date) => `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
    const timeWindow = { timeZone: 'UTC', days: [1, 2, 3, 4, 5, 6, 7], start: hhmm(at), end: hhmm(new Date(at.getTime() + 60_000)) };
    const changed = await call(ts, admin, 'PATCH', `/api/admin/permissions/${await grantOf(owner, assetId)}`, { timeWindow });
    expect(changed.status).toBe(200);

    const moving = keepMoving(control);
    expect(await closedAs(control)).toEqual({ code: 4403, reason: 'access revoked' });
    await moving;
    expect(await denials(owner.userId!)).toContainEqual({ target: assetId, details: expect.objectContaining({ action: 'connect', reason: 'outside_time_window' }) as unknown });
  });

  it('closes the control view when its access cannot be checked (the grants cannot be read): input is never let through unchecked', async () => {
    const { control } = await controlled('store-error');
    const db = ts.services.database.db;
    await sql`ALTER TABLE permissions RENAME TO permissions_away`.execute(db);
    try {
      const moving = keepMoving(control);
      const closed = await closedAs(control);
      await moving;
      expect([4500, 4503]).toContain(closed.code);
      expect(control.texts.filter((m) => m.type === 'error').map((m) => m.code)).toContainEqual(expect.stringMatching(/^(internal|unavailable)$/));
    } finally {
      await sql`ALTER TABLE permissions_away RENAME TO permissions`.execute(db);
    }
  });
  it('closes the control view (4403, auth.denied) once the owner leaves the group its grant is held through, though they stay in another group', async () => {
    const tellers = await ts.services.groups.create({ name: 'view-tellers' }, CLI);
    const clerks = await ts.services.groups.create({ name: 'view-clerks' }, CLI);
    const { owner, assetId, sessionId, control } = await controlled('left-group', [], { throughGroup: tellers });
    await ts.services.groups.addMember(clerks.id, owner.userId!, CLI);

    const removed = await call(ts, admin, 'DELETE', `/api/admin/groups/${tellers.id}/members/${owner.userId}`);
    expect(removed.status).toBe(204);

    const moving = keepMoving(control);
    expect(await closedAs(control)).toEqual({ code: 4403, reason: 'access revoked' });
    await moving;
    expect(control.text('error')).toMatchObject({ code: 'access_revoked' });
    expect(await denials(owner.userId!)).toContainEqual({ target: assetId, details: expect.objectContaining({ action: 'connect', reason: 'no_grant' }) as unknown });
    // Still in a group, so the session itself was not ended: only the view lost its access.
    expect(await call(ts, admin, 'GET', `/api/sessions/${sessionId}`)).toMatchObject({ status: 200, json: { state: 'active' } });
  });

  /** The web session behind the view ends (`end`); the view closes as signed out, the browser session goes on, and no secret is written anywhere. */
  async function signedOutBy(name: string, end: (owner: Caller) => Promise<{ status: number }>) {
    const { owner, sessionId, control } = await controlled(name);
    const { cookie } = owner.headers('GET');
    const { 'x-csrf-token': csrfToken } = owner.headers('POST');

    expect((await end(owner)).status).toBeLessThan(300);

    expect(await closedAs(control)).toEqual({ code: 4401, reason: 'signed out' });
    expect(control.text('error')).toMatchObject({ code: 'signed_out' });
    expect(await call(ts, admin, 'GET', `/api/sessions/${sessionId}`)).toMatchObject({ status: 200, json: { state: 'active' } });
    expect(await denials(owner.userId!)).toEqual([]);
    await ts.services.audit.trail.flush();
    const { rows } = await sql<{ details: string }>`SELECT details FROM audit_events`.execute(ts.services.database.db);
    const cookieValue = cookie!.replace(/^webasset=/, '');
    for (const secret of [cookieValue, csrfToken!]) {
      expect(JSON.stringify(rows)).not.toContain(secret);
      expect(ts.logs.text()).not.toContain(secret);
    }
  }

  it('closes the control view as signed out (4401) when its owner signs out', async () => {
    await signedOutBy('signs-out', (owner) => call(ts, owner, 'POST', '/api/auth/logout'));
  });

  it('closes the control view as signed out (4401) when an administrator revokes the owner’s web sessions', async () => {
    await signedOutBy('revoked-web', (owner) => call(ts, admin, 'DELETE', `/api/admin/users/${owner.userId}/sessions`));
  });
});
