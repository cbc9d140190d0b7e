import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { randomIds, systemClock } from '../../src/core/index.js';
import {
  createAccessRevocations,
  createDatabaseSessionStore,
  createGroups,
  createUsers,
  createWebSessions,
  type Groups,
  type Principal,
  type Users,
  type WebSessions,
} from '../../src/identity/index.js';
import { createStoredSessionsEnder, type EndReason } from '../../src/sessions/index.js';
import { useTestDatabase } from '../support/databases.js';
import { buildStack, CANARY_PASSWORD, CLI, eventually, type SessionStack, usePoolAndPortal } from './support.js';

// Issues 3 and 5: a user whose access is revoked (disabled, deleted, or left without a group) loses
// their browser sessions as well as their web sessions, through the identity module's revocation
// event that the composition root subscribes the sessions module to. Real parts: the database,
// the audit trail, Chromium and the demo portal.

const shared = usePoolAndPortal();

describe('browser sessions end when their user loses access', () => {
  const fresh = useTestDatabase();
  let stack: SessionStack;
  let users: Users;
  let groups: Groups;
  let web: WebSessions;

  beforeEach(async () => {
    stack = await buildStack(fresh, shared.pool, shared.portalUrl);
    fresh.defer(() => stack.close());
    const db = fresh.db.database.db;
    const clock = systemClock;
    web = createWebSessions({ store: createDatabaseSessionStore({ db }), trail: stack.trail, clock, ids: randomIds, sweepIntervalMs: 0 });
    fresh.defer(() => web.close());
    const revocations = createAccessRevocations();
    revocations.subscribe((event) => stack.sessions.endAllOfUser(event.userId, event.by, event.reason, event.context));
    users = createUsers({ db, trail: stack.trail, clock, ids: randomIds, sessions: web, revocations, publicUrl: 'http://127.0.0.1:9' });
    groups = createGroups({
      db,
      trail: stack.trail,
      clock,
      ids: randomIds,
      revocations,
      effects: { endSessions: (userId, by, reason) => web.revokeAllForUser(userId, by, reason), refreshSessions: async () => undefined },
    });
  });

  /** A person created through Users, granted `connect` on the bank directly. */
  async function person(username: string): Promise<Principal> {
    const user = await users.create({ username, source: 'local', roles: ['operator'] }, CLI);
    await stack.grants.create({ subjectKind: 'user', subjectId: user.id, assetId: 'bank', actions: ['connect'] }, CLI);
    return { kind: 'user', id: user.id, name: username, roles: ['operator'], groups: [], via: 'session', mfa: true };
  }

  it('disabling a user ends their live session (reason admin, audited under the administrator) and their web sessions; the live view is told', async () => {
    const olga = await person('olga');
    const snapshot = (await users.sessionUser(olga.id))!;
    const cookie = await web.create({ user: snapshot, mfa: true, method: 'password', context: {} });
    const session = await stack.sessions.start(olga, 'bank');
    const attached = await stack.sessions.attach(session.id, olga, 'control');
    const told: EndReason[] = [];
    attached.onEnd((reason) => told.push(reason));

    await users.disable(olga.id, CLI, 'left the bank', { requestId: 'req-disable' });

    // Ended on this node before disable() returned: nothing to wait for.
    expect(told).toEqual(['admin']);
    expect(attached.browser.closed).toBe(true);
    const record = await stack.sessions.get(session.id, CLI);
    expect(record).toMatchObject({ state: 'ended', endReason: 'admin', endMessage: 'access revoked: user disabled' });
    expect(await web.resolve(cookie.cookieValue)).toBeNull();
    const ended = (await stack.auditRows({ action: 'browser_session.ended', target: session.id }))[0]!;
    expect(ended).toMatchObject({ actor_id: CLI.id, details: { reason: 'admin', message: 'access revoked: user disabled', userId: olga.id, from: 'active' } });
    const [disabled] = await stack.auditRows({ action: 'user.disabled' });
    expect(disabled).toBeDefined();
    expect(await stack.auditText()).not.toContain(CANARY_PASSWORD);
    expect(stack.logs.text()).not.toContain(CANARY_PASSWORD);
  });

  it('removing the last group ends the session; removing one of two groups does not', async () => {
    const paula = await person('paula');
    const tellers = await groups.create({ name: 'tellers' }, CLI);
    const loans = await groups.create({ name: 'loans' }, CLI);
    await groups.addMember(tellers.id, paula.id, CLI);
    await groups.addMember(loans.id, paula.id, CLI);
    const session = await stack.sessions.start(paula, 'bank');

    await groups.removeMember(tellers.id, paula.id, CLI);
    expect(await stack.sessions.get(session.id, paula)).toMatchObject({ state: 'active' });

    await groups.removeMember(loans.id, paula.id, CLI);
    expect(await stack.sessions.get(session.id, CLI)).toMatchObject({ state: 'ended', endReason: 'admin', endMessage: 'access revoked: no group left (removed from group)' });
  });

  it("an agent's session on behalf of a disabled operator ends with it; the service account's other sessions go on", async () => {
    const olga = await person('olga');
    const bot = await users.create({ username: 'bank-bot', source: 'local', kind: 'service', roles: ['agent'] }, CLI);
    await stack.grants.create({ subjectKind: 'user', subjectId: bot.id, assetId: 'bank', actions: ['connect'] }, CLI);
    const agentFor = (operator: Principal | null): Principal => ({
      kind: 'agent',
      id: bot.id,
      name: 'bank-bot',
      roles: ['agent'],
      groups: [],
      via: 'api_token',
      mfa: false,
      scopes: ['mcp'],
      onBehalfOf: operator ? { id: operator.id, name: operator.name, roles: operator.roles, groups: [] } : undefined,
    });
    await stack.assets.update('bank', { policy: { maxSessionsPerCredential: 2 } }, CLI);
    const forOlga = await stack.sessions.start(agentFor(olga), 'bank');
    const own = await stack.sessions.start(agentFor(null), 'bank');
    const handle = await stack.sessions.agent(forOlga.id, agentFor(olga));

    await users.disable(olga.id, CLI, 'left the bank');

    expect(await stack.sessions.get(forOlga.id, CLI)).toMatchObject({ state: 'ended', endReason: 'admin' });
    await expect(handle.controls.snapshot({ redact: handle.redact })).rejects.toMatchObject({ code: 'session_ended' });
    expect(await stack.sessions.get(own.id, CLI)).toMatchObject({ state: 'active' });
  });

  it('deleting a user ends their session before their row goes', async () => {
    const olga = await person('olga');
    const session = await stack.sessions.start(olga, 'bank');
    await users.delete(olga.id, CLI);
    expect(await stack.sessions.get(session.id, CLI)).toMatchObject({ state: 'ended', endReason: 'admin', endMessage: 'access revoked: user deleted' });
  });

  it('a session of the user held by another node is ended in the database (audited), for that node to close at its next tick', async () => {
    const olga = await person('olga');
    const id = randomUUID();
    const now = Date.now();
    await fresh.db.database.db
      .insertInto('browser_sessions')
      .values({ id, asset_id: 'bank', user_id: olga.id, principal_kind: 'user', state: 'active', end_reason: null, end_message: null, created_at_ms: now, active_at_ms: now, ended_at_ms: null, last_input_at_ms: now, node_id: 'other-node', credential: 'bank-login' })
      .execute();

    await users.disable(olga.id, CLI, 'left the bank');

    expect(await stack.sessions.get(id, CLI)).toMatchObject({ state: 'ended', endReason: 'admin', endMessage: 'access revoked: user disabled', nodeId: 'other-node' });
    expect(await stack.auditRows({ action: 'browser_session.ended', target: id })).toEqual([
      expect.objectContaining({ actor_id: CLI.id, details: expect.objectContaining({ reason: 'admin', from: 'active', userId: olga.id }) }),
    ]);
  });

  it("an agent's session on behalf of the user, held by another node, is ended in the database too", async () => {
    const olga = await person('olga');
    const bot = await users.create({ username: 'bank-bot', source: 'local', kind: 'service', roles: ['agent'] }, CLI);
    const id = randomUUID();
    const other = randomUUID();
    const now = Date.now();
    const row = { asset_id: 'bank', user_id: bot.id, principal_kind: 'agent', state: 'active', end_reason: null, end_message: null, created_at_ms: now, active_at_ms: now, ended_at_ms: null, last_input_at_ms: now, node_id: 'other-node', credential: 'bank-login' };
    await fresh.db.database.db
      .insertInto('browser_sessions')
      .values([
        { id, ...row, on_behalf_of: olga.id },
        { id: other, ...row, on_behalf_of: null },
      ])
      .execute();

    await users.disable(olga.id, CLI, 'left the bank');

    expect(await stack.sessions.get(id, CLI)).toMatchObject({ state: 'ended', endReason: 'admin', endMessage: 'access revoked: user disabled' });
    expect(await stack.auditRows({ action: 'browser_session.ended', target: id })).toHaveLength(1);
    // The service account's own session (on behalf of no one) goes on.
    expect(await stack.sessions.get(other, CLI)).toMatchObject({ state: 'active' });
  });

  it("resetting the user's MFA ends their browser session with their web sessions", async () => {
    const olga = await person('olga');
    const session = await stack.sessions.start(olga, 'bank');
    await users.resetMfa(olga.id, CLI);
    expect(await stack.sessions.get(session.id, CLI)).toMatchObject({ state: 'ended', endReason: 'admin', endMessage: 'access revoked: mfa reset' });
  });

  it('in a process without browser sessions (a CLI command against PostgreSQL) the rows are ended, and the node holding the session closes it at its tick', async () => {
    const olga = await person('olga');
    const session = await stack.sessions.start(olga, 'bank');
    const attached = await stack.sessions.attach(session.id, olga, 'control');
    const told: EndReason[] = [];
    attached.onEnd((reason) => told.push(reason));
    const db = fresh.db.database.db;
    const end = createStoredSessionsEnder({ db, trail: stack.trail, clock: systemClock, nodeId: 'cli-node' });
    const cli = createUsers({
      db,
      trail: stack.trail,
      clock: systemClock,
      ids: randomIds,
      sessions: web,
      revocations: createAccessRevocations({ fallback: (event) => end(event.userId, event.by, event.reason, event.context) }),
      publicUrl: 'http://127.0.0.1:9',
    });

    await cli.disable(olga.id, CLI, 'left the bank');

    const row = await db.selectFrom('browser_sessions').select(['state', 'end_reason', 'end_message']).where('id', '=', session.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ state: 'ended', end_reason: 'admin', end_message: 'access revoked: user disabled' });
    await eventually(async () => told.length > 0, 10_000, 'the holding node to notice the end');
    expect(told).toEqual(['admin']);
    expect(attached.browser.closed).toBe(true);
    // Recorded once, by the process that ended it; the holding node only closes.
    expect(await stack.auditRows({ action: 'browser_session.ended', target: session.id })).toEqual([expect.objectContaining({ actor_id: CLI.id })]);
  });
});
