import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoPortal } from '../../src/cli/commands/demo-portal-seed.js';
import { createDemoPortal, type DemoPortal } from '../../src/demo-portal/index.js';
import type { Principal } from '../../src/identity/index.js';
import { agentToken, auditRows, auditText, connect, rawPost, textOf } from '../mcp/support.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { call, CLI, sessionCaller, type Caller } from './admin-callers.js';
import { LiveClient } from './live-view-fixtures.js';

// Issues 3 and 5 over HTTP, with real Chromium and the demo portal: an administrator disables an
// operator (or takes away their last group) and everything the operator holds ends: the live
// session (state `ended`, reason `admin`), its live view (an `ended` message), and the MCP agent
// acting for them (its next call fails and says why).

const CANARY_PASSWORD = 'revoked-Canary-Pw-4d2e8a61f0';
const USERNAME = 'revoked-portal-user';
const SESSION_ID = /Session ([0-9a-f-]{36}) on asset demo-bank/;
const ADMIN_WEB: Principal = { kind: 'user', id: 'test-admin', name: 'Test admin', roles: ['admin'], groups: [], via: 'session', mfa: true };

describe('an administrator revokes an operator: their live session, live view and agent stop', () => {
  let ts: TestServer;
  let portal: DemoPortal;
  let admin: Caller;
  const clients: Client[] = [];
  const sockets: LiveClient[] = [];

  beforeAll(async () => {
    ts = await startTestServer({ WEBASSET_API_RATE_LIMIT: '100000' });
    portal = createDemoPortal({ username: USERNAME, password: CANARY_PASSWORD });
    const url = await portal.start(0, '127.0.0.1');
    await seedDemoPortal(ts.services, { url, credentials: { username: USERNAME, password: CANARY_PASSWORD }, grantTo: undefined }, { kind: 'user', id: 'test-admin', name: 'Test admin' }, CLI);
    // The operator's own session and their agent's share the one credential.
    await ts.services.assets.update('demo-bank', { policy: { maxSessionsPerCredential: 2 } }, CLI);
    admin = await sessionCaller(ts, 'ada-admin', ['admin']);
  }, 120_000);
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close().catch(() => undefined);
    for (const socket of sockets.splice(0)) socket.close();
    for (const s of await ts.server.browser.sessions.list(ADMIN_WEB, { all: true })) {
      if (s.state !== 'ended') await ts.server.browser.sessions.end(s.id, ADMIN_WEB).catch(() => undefined);
    }
  });
  afterAll(async () => {
    await ts?.stop();
    await portal?.stop();
  });

  /** An operator with a web session and connect on the demo bank, their live session watched through the live view, and an agent acting for them with its own session. */
  async function operatorAtWork(username: string) {
    const operator = await sessionCaller(ts, username, ['operator']);
    await ts.services.grants.create({ subjectKind: 'user', subjectId: operator.userId!, assetId: 'demo-bank', actions: ['connect'] }, CLI);
    const started = await call(ts, operator, 'POST', '/api/sessions', { assetId: 'demo-bank' });
    expect(started.status).toBe(201);
    const sessionId = (started.json as { id: string }).id;
    const live = LiveClient.open(ts.url, sessionId, operator.headers('GET').cookie!);
    sockets.push(live);
    await live.until(() => live.frames.length > 0, 'a first frame');

    const agent = await agentToken(ts, `${username}-agent`, { onBehalfOfId: operator.userId! });
    await ts.services.grants.create({ subjectKind: 'user', subjectId: agent.userId, assetId: 'demo-bank', actions: ['connect'] }, CLI);
    const client = await connect(ts.url, agent.token);
    clients.push(client);
    const opened = await client.callTool({ name: 'open_session', arguments: { asset: 'demo-bank' } }, undefined, { timeout: 60_000 });
    const agentSession = SESSION_ID.exec(textOf(opened))?.[1];
    if (!agentSession) throw new Error(`no session in ${textOf(opened)}`);
    return { operator, sessionId, live, agent, client, agentSession };
  }

  async function stateOf(id: string): Promise<{ state: string; endReason: string | null; endMessage: string | null }> {
    const answer = await call(ts, admin, 'GET', `/api/sessions/${id}`);
    expect(answer.status).toBe(200);
    return answer.json as { state: string; endReason: string | null; endMessage: string | null };
  }

  /**
   * The view ends one of two ways, both final, depending on which of the two revocations its once-a-second access check
   * sees first: the browser session's end (`ended`, reason admin, 4410), or the web session's (`signed_out`, 4401: the
   * user's web sessions are revoked first, so a disabled person's cookie never outlives the decision).
   */
  async function viewClosedByRevocation(live: LiveClient): Promise<void> {
    const closed = await live.closed;
    if (closed.code === 4401) {
      expect(live.text('error')).toMatchObject({ type: 'error', code: 'signed_out' });
      return;
    }
    expect(live.text('ended')).toEqual({ type: 'ended', reason: 'admin' });
    expect(closed.code).toBe(4410);
  }

  /** Polls the session API until the session has ended (a deadline, not a timing assertion). */
  async function endedSoon(id: string) {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const s = await stateOf(id);
      if (s.state === 'ended' || Date.now() > deadline) return s;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('disabling the operator ends their live session and their agent’s, tells the live view, and the agent’s token stops working', async () => {
    const { operator, sessionId, live, agent, agentSession } = await operatorAtWork('olga');
    expect((await stateOf(sessionId)).state).toBe('active');

    const disabled = await call(ts, admin, 'POST', `/api/admin/users/${operator.userId}/disable`, { reason: 'left the bank' });
    expect(disabled.status).toBe(200);

    expect(await endedSoon(sessionId)).toMatchObject({ state: 'ended', endReason: 'admin', endMessage: 'access revoked: user disabled' });
    expect(await endedSoon(agentSession)).toMatchObject({ state: 'ended', endReason: 'admin' });
    await viewClosedByRevocation(live);

    // The operator's web session is gone, and so is the agent's token (it acts for a disabled person).
    expect((await call(ts, operator, 'GET', '/api/sessions')).status).toBe(401);
    const next = await rawPost(`${ts.url}/mcp`, { authorization: `Bearer ${agent.token}` }, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'snapshot', arguments: { session: agentSession } } });
    expect(next.status).toBe(401);
    expect(await next.json()).toMatchObject({ error: { code: 'unauthenticated', message: expect.stringMatching(/invalid, revoked or expired/) } });

    const ends = (await auditRows(ts, 'browser_session.ended')).filter((r) => r.target_id === sessionId || r.target_id === agentSession);
    expect(ends).toHaveLength(2);
    for (const end of ends) expect(end).toMatchObject({ actor_id: admin.userId, details: { reason: 'admin', message: 'access revoked: user disabled' } });
    expect(await auditText(ts)).not.toContain(CANARY_PASSWORD);
    expect(ts.logs.text()).not.toContain(CANARY_PASSWORD);
  });

  it('taking away the last group ends the operator’s sessions; their agent’s next call says the session was ended', async () => {
    const { operator, sessionId, live, client, agentSession } = await operatorAtWork('paula');
    const tellers = await ts.services.groups.create({ name: 'tellers' }, CLI);
    await ts.services.groups.addMember(tellers.id, operator.userId!, CLI);

    const removed = await call(ts, admin, 'DELETE', `/api/admin/groups/${tellers.id}/members/${operator.userId}`);
    expect(removed.status).toBe(204);

    expect(await endedSoon(sessionId)).toMatchObject({ state: 'ended', endReason: 'admin', endMessage: 'access revoked: no group left (removed from group)' });
    await viewClosedByRevocation(live);
    // The person is still enabled, so the agent's token still works: its session is what ended.
    const next = await client.callTool({ name: 'snapshot', arguments: { session: agentSession } }, undefined, { timeout: 60_000 });
    expect(next.isError).toBe(true);
    expect(textOf(next)).toContain('This session was ended by an administrator.');
    expect(JSON.stringify(next)).not.toContain(CANARY_PASSWORD);
  });
});
