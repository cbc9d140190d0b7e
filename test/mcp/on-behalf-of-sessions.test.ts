import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoPortal } from '../../src/cli/commands/demo-portal-seed.js';
import { createDemoPortal, type DemoPortal } from '../../src/demo-portal/index.js';
import type { Principal } from '../../src/identity/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ADMIN, agentToken, auditRows, connect, textOf } from './support.js';

// The audit finding: every use of a session re-applies the access decision (`connect` on its asset,
// for the calling principal now), not only its opening. All tokens of one service account own its
// sessions, but a token acting for an operator without the grant may not use (list, snapshot,
// close) the session another token opened; and a grant taken away mid-session stops the agent's
// next call. Real parts: the server, the SDK client over Streamable HTTP, Chromium, the demo portal.

const PASSWORD = 'obo-Canary-Pw-5c3a9e17d2';
const USERNAME = 'obo-portal-user';
const SESSION_ID = /Session ([0-9a-f-]{36}) on asset demo-bank/;
const NO_SUCH_SESSION = 'error [not_found]: No such session.';
const ADMIN_WEB: Principal = { kind: 'user', id: 'test-admin', name: 'Test admin', roles: ['admin'], groups: [], via: 'session', mfa: true };

describe('a session is used only while the caller may still connect to its asset', () => {
  let ts: TestServer;
  let portal: DemoPortal;
  const clients: Client[] = [];

  beforeAll(async () => {
    ts = await startTestServer({ WEBASSET_API_RATE_LIMIT: '100000' });
    portal = createDemoPortal({ username: USERNAME, password: PASSWORD });
    const url = await portal.start(0, '127.0.0.1');
    await seedDemoPortal(ts.services, { url, credentials: { username: USERNAME, password: PASSWORD }, grantTo: undefined }, { kind: 'user', id: 'test-admin', name: 'Test admin' }, ADMIN);
  }, 120_000);
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close().catch(() => undefined);
    for (const s of await ts.server.browser.sessions.list(ADMIN_WEB, { all: true })) {
      if (s.state !== 'ended') await ts.server.browser.sessions.end(s.id, ADMIN_WEB).catch(() => undefined);
    }
  });
  afterAll(async () => {
    await ts?.stop();
    await portal?.stop();
  });

  const client = async (token: string) => {
    const c = await connect(ts.url, token);
    clients.push(c);
    const call = async (name: string, args: Record<string, unknown> = {}) => {
      const result = await c.callTool({ name, arguments: args }, undefined, { timeout: 60_000 });
      return { text: textOf(result), isError: result.isError === true };
    };
    return call;
  };
  const grantConnect = (subjectId: string) => ts.services.grants.create({ subjectKind: 'user', subjectId, assetId: 'demo-bank', actions: ['connect'] }, ADMIN);
  const openDemo = async (call: Awaited<ReturnType<typeof client>>) => {
    const opened = await call('open_session', { asset: 'demo-bank' });
    expect(opened.isError, opened.text).toBe(false);
    return SESSION_ID.exec(opened.text)![1]!;
  };

  it("a token acting for a grantless operator neither lists, snapshots nor closes the session another token of its account opened; each refusal is audited", async () => {
    const operator = await ts.services.users.create({ username: 'grantless-operator', roles: ['operator'], source: 'local', kind: 'person' }, ADMIN);
    const t0 = await agentToken(ts, 'shared-agent');
    await grantConnect(t0.userId);
    const t1 = await ts.services.tokens.create({ name: 'shared-agent for grantless-operator', serviceAccountId: t0.userId, scopes: ['mcp'], onBehalfOfId: operator.id, createdBy: ADMIN });
    const asT0 = await client(t0.token);
    const asT1 = await client(t1.token);

    const session = await openDemo(asT0);
    expect((await asT0('snapshot', { session })).text).toContain('€12,345.67');

    // What the pair may do, before: nothing.
    expect((await asT1('list_assets')).text).toBe('No assets: none is granted to you.');
    expect((await asT1('open_session', { asset: 'demo-bank' })).text).toBe('error [forbidden]: You are not allowed to do this.');
    // And what it may not reach through the account's session.
    const listed = await asT1('list_sessions');
    expect(listed.text).toBe('You have no sessions.');
    expect(listed.text).not.toContain(session);
    const snapshot = await asT1('snapshot', { session });
    expect(snapshot).toEqual({ isError: true, text: NO_SUCH_SESSION });
    expect((await asT1('screenshot', { session })).text).toBe(NO_SUCH_SESSION);
    expect((await asT1('close_session', { session })).text).toBe(NO_SUCH_SESSION);

    // T0 still holds it: the refused close ended nothing.
    expect((await asT0('list_sessions')).text).toContain(`- ${session}  asset demo-bank  active`);
    expect((await asT0('snapshot', { session })).text).toContain('€12,345.67');

    const denials = (await auditRows(ts, 'auth.denied')).filter((r) => r.actor_id === t0.userId && r.details.onBehalfOf === operator.id);
    // open_session, snapshot, screenshot, close_session: each refused by the one decision, with its reason.
    expect(denials).toHaveLength(4);
    for (const d of denials) expect(d).toMatchObject({ outcome: 'denied', target_id: 'demo-bank', details: { action: 'connect', reason: 'on_behalf_of_denied', via: 'api_token' } });
    const calls = (await auditRows(ts, 'mcp.tool_called')).filter((r) => r.details.onBehalfOf === operator.id && r.target_id === session);
    expect(calls.map((r) => [r.details.tool, r.outcome, r.details.code])).toEqual([
      ['snapshot', 'failure', 'not_found'],
      ['screenshot', 'failure', 'not_found'],
      ['close_session', 'failure', 'not_found'],
    ]);
  });

  it('a grant taken away mid-session refuses the agent’s next call (fail closed) and hides the session from list_sessions', async () => {
    const agent = await agentToken(ts, 'revoked-agent');
    const grant = await grantConnect(agent.userId);
    const call = await client(agent.token);
    const session = await openDemo(call);
    expect((await call('snapshot', { session })).isError).toBe(false);

    await ts.services.grants.delete(grant.id, ADMIN);

    expect(await call('snapshot', { session })).toEqual({ isError: true, text: NO_SUCH_SESSION });
    expect((await call('click', { session, ref: 'e1' })).text).toBe(NO_SUCH_SESSION);
    expect((await call('list_sessions')).text).toBe('You have no sessions.');
    expect((await call('close_session', { session })).text).toBe(NO_SUCH_SESSION);
    const denials = (await auditRows(ts, 'auth.denied')).filter((r) => r.actor_id === agent.userId);
    expect(denials.map((r) => [r.target_id, r.details.action, r.details.reason])).toEqual([
      ['demo-bank', 'connect', 'no_grant'],
      ['demo-bank', 'connect', 'no_grant'],
      ['demo-bank', 'connect', 'no_grant'],
    ]);
  });

  it('an operator whose grant was taken away cannot take control of their session again through the live view', async () => {
    const person = await ts.services.users.create({ username: 'revoked-operator', roles: ['operator'], source: 'local', kind: 'person' }, ADMIN);
    const grant = await grantConnect(person.id);
    const operator: Principal = { kind: 'user', id: person.id, name: 'revoked-operator', roles: ['operator'], groups: [], via: 'session', mfa: true };
    const sessions = ts.server.browser.sessions;
    const started = await sessions.start(operator, 'demo-bank');
    const attached = await sessions.attach(started.id, operator, 'control');
    attached.onEnd(() => undefined)();

    await ts.services.grants.delete(grant.id, ADMIN);

    await expect(sessions.attach(started.id, operator, 'control')).rejects.toMatchObject({ code: 'not_found' });
    const denials = (await auditRows(ts, 'auth.denied')).filter((r) => r.actor_id === person.id);
    expect(denials.map((r) => [r.target_id, r.details.action, r.details.reason])).toEqual([['demo-bank', 'connect', 'no_grant']]);
    // Their own session stays theirs to end.
    expect((await sessions.end(started.id, operator)).state).toBe('ended');
  });
});
