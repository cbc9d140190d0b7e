import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDemoPortal, type DemoPortal } from '../../src/demo-portal/index.js';
import type { Principal } from '../../src/identity/index.js';
import { ADMIN, agentToken, auditRows, connect, textOf } from '../mcp/support.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { addDemoTransferAsset } from './live-view-fixtures.js';

// cc59eb3 made every agent use of a session re-apply `connect` on its asset; the session record
// over REST (GET /api/sessions/{id}) and the owner's file routes (downloads, uploads) re-apply it
// too. A token reads its own session only while it may still connect (as it lists them); using a
// session's files re-checks for every owner, as the owner's control view does. Real parts: the
// server over HTTP, the SDK client over Streamable HTTP, Chromium, the demo portal.

const USERNAME = 'recheck-portal-user';
const PASSWORD = 'recheck-Canary-Pw-3b8d0e61a4';
const ASSET = 'recheck-xfer';
const SESSION_ID = new RegExp(`Session ([0-9a-f-]{36}) on asset ${ASSET}`);
const NIL_ID = '00000000-0000-4000-8000-000000000000';
const SCOPES = ['mcp', 'api:read', 'api:write'];
const ADMIN_WEB: Principal = { kind: 'user', id: 'test-admin', name: 'Test admin', roles: ['admin'], groups: [], via: 'session', mfa: true };
const NO_SUCH_SESSION = { code: 'not_found', message: 'No such session.' };

const REF = (line: RegExp, snapshot: string): string => {
  const m = new RegExp(`${line.source}[^\\n]*\\[ref=(\\w+)\\]`).exec(snapshot);
  if (!m) throw new Error(`no ref for ${line} in:\n${snapshot}`);
  return m[1]!;
};

async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the session record and its files over REST only while the caller may still connect to its asset', () => {
  let ts: TestServer;
  let portal: DemoPortal;
  const clients: Client[] = [];

  beforeAll(async () => {
    ts = await startTestServer({ WEBASSET_API_RATE_LIMIT: '100000' });
    portal = createDemoPortal({ username: USERNAME, password: PASSWORD });
    const url = await portal.start(0, '127.0.0.1');
    // Downloads and uploads allowed; grants are given per test.
    await addDemoTransferAsset(ts, { id: ASSET, portalUrl: url, username: USERNAME, password: PASSWORD, policy: 'allow', endsOn: 'accounts', connect: [] });
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
    return async (name: string, args: Record<string, unknown> = {}) => {
      const result = await c.callTool({ name, arguments: args }, undefined, { timeout: 60_000 });
      return { text: textOf(result), isError: result.isError === true };
    };
  };
  const rest = async (token: string, method: string, path: string, body?: FormData) => {
    const response = await fetch(`${ts.url}${path}`, { method, headers: { authorization: `Bearer ${token}` }, body });
    const text = await response.text();
    const error = response.headers.get('content-type')?.startsWith('application/json') && text ? ((JSON.parse(text) as { error?: { code: string; message: string } }).error ?? null) : null;
    return { status: response.status, text, error: error ? { code: error.code, message: error.message } : null };
  };
  const aFile = () => {
    const form = new FormData();
    form.append('file', new Blob([Buffer.from('a,b\n1,2\n')], { type: 'text/csv' }), 'note.csv');
    return form;
  };
  const grantConnect = (subjectId: string) => ts.services.grants.create({ subjectKind: 'user', subjectId, assetId: ASSET, actions: ['connect'] }, ADMIN);

  /** An agent's session on the transfer asset, with the statement the portal sent kept as a download: its id and the download's. */
  async function openWithDownload(call: Awaited<ReturnType<typeof client>>): Promise<{ session: string; downloadId: string }> {
    const opened = await call('open_session', { asset: ASSET });
    expect(opened.isError, opened.text).toBe(false);
    const session = SESSION_ID.exec(opened.text)![1]!;
    const page = await call('snapshot', { session });
    expect(page.isError, page.text).toBe(false);
    await call('click', { session, ref: REF(/link "Download the latest statement/, page.text) });
    const downloadId = await eventually(async () => {
      const rows = (await auditRows(ts, 'browser_session.downloaded')).filter((r) => r.target_id === session);
      return rows[0]?.details.downloadId as string | undefined;
    }, 'the statement kept as a download');
    return { session, downloadId };
  }

  it('a token acting for a grantless operator reads neither the record nor the files of the session another token of its account opened; each refusal is audited', async () => {
    const operator = await ts.services.users.create({ username: 'recheck-grantless-operator', roles: ['operator'], source: 'local', kind: 'person' }, ADMIN);
    const t0 = await agentToken(ts, 'recheck-shared-agent', { scopes: SCOPES });
    await grantConnect(t0.userId);
    const t1 = await ts.services.tokens.create({ name: 'recheck-shared-agent for grantless-operator', serviceAccountId: t0.userId, scopes: SCOPES, onBehalfOfId: operator.id, createdBy: ADMIN });
    const { session, downloadId } = await openWithDownload(await client(t0.token));
    const download = `/api/sessions/${session}/downloads/${downloadId}`;

    // The opener reads it and fetches its file.
    const own = await rest(t0.token, 'GET', `/api/sessions/${session}`);
    expect(own.status, own.text).toBe(200);
    expect(JSON.parse(own.text)).toMatchObject({ id: session, assetId: ASSET, state: 'active' });
    const fetched = await rest(t0.token, 'GET', download);
    expect(fetched.status, fetched.text).toBe(200);
    expect(fetched.text).toContain(',');

    // The other token of the same account, for an operator without the grant: as if there were no such session.
    for (const [method, path, body] of [
      ['GET', `/api/sessions/${session}`, undefined],
      ['GET', download, undefined],
      ['POST', `/api/sessions/${session}/uploads/${NIL_ID}`, aFile()],
      ['DELETE', `/api/sessions/${session}/uploads/${NIL_ID}`, undefined],
    ] as const) {
      const refused = await rest(t1.token, method, path, body);
      expect([method, path, refused.status, refused.error]).toEqual([method, path, 404, NO_SUCH_SESSION]);
    }
    const fetches = (await auditRows(ts, 'browser_session.download_fetched')).filter((r) => r.target_id === session);
    expect(fetches.map((r) => r.actor_id)).toEqual([t0.userId]);
    expect(fetches[0]!.details.onBehalfOf).toBeUndefined();

    const denials = (await auditRows(ts, 'auth.denied')).filter((r) => r.actor_id === t0.userId && r.details.onBehalfOf === operator.id);
    expect(denials).toHaveLength(4);
    for (const d of denials) expect(d).toMatchObject({ outcome: 'denied', target_id: ASSET, details: { action: 'connect', reason: 'on_behalf_of_denied', via: 'api_token' } });

    // The opener still holds it: nothing the refused token did touched it.
    expect((await rest(t0.token, 'GET', `/api/sessions/${session}`)).status).toBe(200);
    expect((await rest(t0.token, 'GET', download)).status).toBe(200);
  }, 180_000);

  it('a grant taken away mid-session refuses the owner token’s next read of the session and of its files (fail closed)', async () => {
    const agent = await agentToken(ts, 'recheck-revoked-agent', { scopes: SCOPES });
    const grant = await grantConnect(agent.userId);
    const { session, downloadId } = await openWithDownload(await client(agent.token));
    expect((await rest(agent.token, 'GET', `/api/sessions/${session}`)).status).toBe(200);

    await ts.services.grants.delete(grant.id, ADMIN);

    const read = await rest(agent.token, 'GET', `/api/sessions/${session}`);
    expect([read.status, read.error]).toEqual([404, NO_SUCH_SESSION]);
    const fetched = await rest(agent.token, 'GET', `/api/sessions/${session}/downloads/${downloadId}`);
    expect([fetched.status, fetched.error]).toEqual([404, NO_SUCH_SESSION]);
    const denials = (await auditRows(ts, 'auth.denied')).filter((r) => r.actor_id === agent.userId);
    expect(denials.map((r) => [r.target_id, r.details.action, r.details.reason])).toEqual([
      [ASSET, 'connect', 'no_grant'],
      [ASSET, 'connect', 'no_grant'],
    ]);
    expect((await auditRows(ts, 'browser_session.download_fetched')).filter((r) => r.target_id === session)).toEqual([]);
  }, 180_000);

  it('an operator whose grant was taken away still reads their own session, but no longer uses its files', async () => {
    const person = await ts.services.users.create({ username: 'recheck-revoked-operator', roles: ['operator'], source: 'local', kind: 'person' }, ADMIN);
    const grant = await grantConnect(person.id);
    const operator: Principal = { kind: 'user', id: person.id, name: 'recheck-revoked-operator', roles: ['operator'], groups: [], via: 'session', mfa: true };
    const sessions = ts.server.browser.sessions;
    const started = await sessions.start(operator, ASSET);

    await ts.services.grants.delete(grant.id, ADMIN);

    // A person's own session stays theirs to read (as to list and end); using it re-checks, as the control view does.
    expect(await sessions.get(started.id, operator)).toMatchObject({ id: started.id, state: 'active' });
    await expect(sessions.fetchDownload(started.id, NIL_ID, operator)).rejects.toMatchObject({ code: 'not_found', publicMessage: 'No such session.' });
    await expect(sessions.cancelUpload(started.id, NIL_ID, operator)).rejects.toMatchObject({ code: 'not_found', publicMessage: 'No such session.' });
    const denials = (await auditRows(ts, 'auth.denied')).filter((r) => r.actor_id === person.id);
    expect(denials.map((r) => [r.target_id, r.details.action, r.details.reason])).toEqual([
      [ASSET, 'connect', 'no_grant'],
      [ASSET, 'connect', 'no_grant'],
    ]);
  }, 180_000);
});
