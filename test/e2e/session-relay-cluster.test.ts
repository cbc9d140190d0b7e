import { createHash } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDemoPortal, type DemoPortal } from '../../src/demo-portal/index.js';
import type { Principal } from '../../src/identity/index.js';
import { CLUSTER_BACKENDS, startTestCluster, type ClusterNode, type TestCluster } from '../support/cluster-nodes.js';
import { freePort } from '../support/free-port.js';
import { sessionCaller, type Caller } from '../http/admin-callers.js';
import { addDemoTransferAsset, LiveClient } from '../http/live-view-fixtures.js';
import { agentToken, connect, textOf } from '../mcp/support.js';

const USERNAME = 'relay-alice';
const PASSWORD = 'relay-canary-Pa55-4be7d1';
const ADMIN_WEB: Principal = { kind: 'user', id: 'test-admin', name: 'Test admin', roles: ['admin'], groups: [], via: 'session', mfa: true };
const SESSION_ID = /Session ([0-9a-f-]{36}) on asset relay-statements/;

/**
 * Session-bound HTTP requests on two product nodes (PostgreSQL + Redis, real Chromium, the demo
 * portal): a session opened on node A, its download, upload and MCP tool calls sent to node B,
 * which relays them to A (http/session-relay.ts); A authenticates, decides and audits as for a
 * direct request, with the client address B determined.
 */
describe.skipIf(!CLUSTER_BACKENDS)('downloads, uploads and MCP tool calls through another node (PostgreSQL + Redis, two nodes)', () => {
  let cluster: TestCluster;
  let a: ClusterNode;
  let b: ClusterNode;
  let portal: DemoPortal;
  let owner: Caller;
  let other: Caller;
  const clients: LiveClient[] = [];
  const mcpClients: Client[] = [];
  /** Every answer's text, for the canary check. */
  const answers: string[] = [];
  /** Credentials the relay carried, which no log may show. */
  const carried: string[] = [];

  /** A raw request of `caller` to `node`, as a browser behind node B's load balancer at `ip` would send it. */
  async function send(node: ClusterNode, caller: Caller, method: string, path: string, options: { body?: FormData; ip?: string; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...caller.headers(method), ...(method === 'GET' ? {} : { origin: node.url }), ...(options.ip ? { 'x-forwarded-for': options.ip } : {}), ...options.headers };
    const response = await fetch(`${node.url}${path}`, { method, headers, body: options.body });
    const bytes = Buffer.from(await response.arrayBuffer());
    answers.push(bytes.toString('utf8'));
    return { status: response.status, headers: response.headers, bytes, json: () => JSON.parse(bytes.toString('utf8')) as Record<string, unknown> };
  }
  /** An error answer without its request id (each node has its own). */
  const errorOf = (answer: { json(): Record<string, unknown> }) => {
    const { code, message } = answer.json().error as { code: string; message: string };
    return { code, message };
  };
  const files = (name: string, bytes: Buffer) => {
    const form = new FormData();
    form.append('file', new Blob([bytes], { type: 'application/pdf' }), name);
    return form;
  };
  function press(viewer: LiveClient, key: string, code: string, times = 1): void {
    for (let i = 0; i < times; i++) {
      viewer.send({ type: 'key', action: 'down', key, code });
      viewer.send({ type: 'key', action: 'up', key, code });
    }
  }

  /** A session of the owner on node A and the owner's live view, straight on A (painted once). */
  async function sessionOnA(assetId: string): Promise<{ sessionId: string; viewer: LiveClient }> {
    const started = await cluster.request(a, owner, 'POST', '/api/sessions', { assetId });
    expect(started.status, JSON.stringify(started.json)).toBe(201);
    expect(started.json.nodeId).toBe('node-a');
    const sessionId = started.json.id as string;
    const viewer = LiveClient.open(a.url, sessionId, owner.headers('GET').cookie!);
    clients.push(viewer);
    await viewer.until(() => viewer.frames.length > 0, 'a first frame');
    return { sessionId, viewer };
  }

  /** Audit records of a session (one database: both nodes write there), oldest first. */
  async function audited(action: string, sessionId: string) {
    await a.services.audit.trail.flush();
    await b.services.audit.trail.flush();
    const { rows } = await sql<{ outcome: string; actor_id: string; node_id: string; source_ip: string | null; details: string | Record<string, unknown> }>`
      SELECT outcome, actor_id, node_id, source_ip, details FROM audit_events WHERE action = ${action} AND target_id = ${sessionId} ORDER BY seq`.execute(a.services.database.db);
    return rows.map((row) => ({ ...row, details: typeof row.details === 'string' ? (JSON.parse(row.details) as Record<string, unknown>) : row.details }));
  }

  /** While `run` runs, node B finds node A announced at an address where nothing answers (or not at all). */
  async function nodeAElsewhere<T>(how: 'unreachable' | 'unannounced', run: () => Promise<T>): Promise<T> {
    const entry = await b.services.state.get('cluster:node:node-a');
    expect(entry).toEqual({ url: a.url });
    if (how === 'unannounced') await b.services.state.delete('cluster:node:node-a');
    else await b.services.state.set('cluster:node:node-a', { url: `http://127.0.0.1:${await freePort()}` }, 30_000);
    try {
      return await run();
    } finally {
      await b.services.state.set('cluster:node:node-a', entry, 30_000);
    }
  }

  beforeAll(async () => {
    cluster = await startTestCluster({ both: { WEBASSET_API_RATE_LIMIT: '1000000' } });
    ({ a, b } = cluster);
    portal = createDemoPortal({ username: USERNAME, password: PASSWORD });
    const portalUrl = await portal.start(0, '127.0.0.1');
    const onA = cluster.callerOn(a, a);
    owner = await sessionCaller(onA, 'relay-owner', ['operator']);
    other = await sessionCaller(onA, 'relay-other', ['operator']);
    const asset = { portalUrl, username: USERNAME, password: PASSWORD, policy: 'allow' as const, connect: [owner, other] };
    carried.push(/^webasset=(.*)$/.exec(owner.headers('GET').cookie!)![1]!, owner.headers('POST')['x-csrf-token']!);
    await addDemoTransferAsset(onA, { id: 'relay-statements', endsOn: 'accounts', ...asset });
    await addDemoTransferAsset(onA, { id: 'relay-documents', endsOn: 'documents', ...asset });
  }, 120_000);
  // A failed test leaves its session open; the credential's limit would then refuse the next test's session.
  afterEach(async () => {
    for (const s of await a.server.browser.sessions.list(ADMIN_WEB, { all: true })) {
      if (s.state !== 'ended') await a.server.browser.sessions.end(s.id, ADMIN_WEB).catch(() => undefined);
    }
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    for (const client of mcpClients) await client.close().catch(() => undefined);
    await cluster?.stop();
    await portal?.stop();
  });

  it('a download through node B: the exact bytes from node A, audited once there with the client address B saw; another operator refused as directly; an unannounced node not_found, an unreachable one node_unavailable', async () => {
    const { sessionId, viewer } = await sessionOnA('relay-statements');
    // The brand link, "Make a transfer", then the statement link.
    press(viewer, 'Tab', 'Tab', 3);
    press(viewer, 'Enter', 'Enter');
    await viewer.until(() => viewer.text('download') !== undefined, 'the download message');
    const notice = viewer.text('download') as unknown as { id: string; fileName: string; size: number; sha256: string };
    const path = `/api/sessions/${sessionId}/downloads/${notice.id}`;

    const fetched = await send(b, owner, 'GET', path, { ip: '198.51.100.21' });
    expect(fetched.status).toBe(200);
    expect(fetched.bytes.length).toBe(notice.size);
    expect(createHash('sha256').update(fetched.bytes).digest('hex')).toBe(notice.sha256);
    expect(fetched.bytes.toString('utf8')).toContain(USERNAME);
    expect(fetched.headers.get('content-type')).toBe('application/octet-stream');
    expect(fetched.headers.get('content-disposition')).toBe(`attachment; filename="statement-latest.csv"; filename*=UTF-8''statement-latest.csv`);
    expect(fetched.headers.get('x-file-sha256')).toBe(notice.sha256);
    expect(fetched.headers.get('x-content-type-options')).toBe('nosniff');
    expect(fetched.headers.get('transfer-encoding')).toBeNull();
    const fetches = await audited('browser_session.download_fetched', sessionId);
    expect(fetches).toEqual([expect.objectContaining({ outcome: 'success', actor_id: owner.userId, node_id: 'node-a', source_ip: '198.51.100.21' })]);

    // Another operator (who may connect to the asset): through B exactly what A answers directly, and nothing recorded.
    const refusedViaB = await send(b, other, 'GET', path);
    const refusedOnA = await send(a, other, 'GET', path);
    expect(refusedViaB.status).toBe(404);
    expect(errorOf(refusedViaB)).toEqual(errorOf(refusedOnA));
    // Anonymous through B: 401 at B, before any word to A.
    const anonymous = await fetch(`${b.url}${path}`);
    expect(anonymous.status).toBe(401);

    const unannounced = await nodeAElsewhere('unannounced', () => send(b, owner, 'GET', path));
    expect(unannounced.status).toBe(404);
    expect(unannounced.json()).toMatchObject({ error: { code: 'not_found' } });
    const unreachable = await nodeAElsewhere('unreachable', () => send(b, owner, 'GET', path));
    expect(unreachable.status).toBe(503);
    expect(unreachable.json()).toMatchObject({ error: { code: 'node_unavailable' } });
    expect(await audited('browser_session.download_fetched', sessionId)).toHaveLength(1);
  });

  it('an upload through node B: the file streamed to node A (recorded there once, with its SHA-256 and the client address) and into the portal; CSRF still enforced at B; another operator refused as directly; the cancel relayed too', async () => {
    const { sessionId, viewer } = await sessionOnA('relay-documents');
    // The brand link, then the file input; Space opens its chooser.
    press(viewer, 'Tab', 'Tab', 2);
    press(viewer, ' ', 'Space');
    await viewer.until(() => viewer.text('file_chooser') !== undefined, 'the file chooser message');
    const chooser = viewer.text('file_chooser') as unknown as { id: string };
    const path = `/api/sessions/${sessionId}/uploads/${chooser.id}`;
    // Larger than the 1 MiB JSON body limit: the caps are node A's (25 MiB a file).
    const document = Buffer.concat([Buffer.from('%PDF-1.4 relayed statement\n'), Buffer.alloc(1536 * 1024, 0x20)]);

    // The cookie without its CSRF token, through B: refused by B itself and audited there; A hears nothing.
    const forged = await fetch(`${b.url}${path}`, { method: 'POST', headers: { cookie: owner.headers('GET').cookie!, origin: b.url }, body: files('a.pdf', document) });
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { error: { code: string } }).error.code).toBe('csrf_failed');
    await b.services.audit.trail.flush();
    const { rows: csrf } = await sql<{ node_id: string; actor_id: string }>`
      SELECT node_id, actor_id FROM audit_events WHERE action = 'auth.csrf.failed' ORDER BY seq DESC LIMIT 1`.execute(a.services.database.db);
    expect(csrf).toEqual([{ node_id: 'node-b', actor_id: owner.userId }]);
    // Another operator: what A answers directly.
    const otherViaB = await send(b, other, 'POST', path, { body: files('a.pdf', document) });
    const otherOnA = await send(a, other, 'POST', path, { body: files('a.pdf', document) });
    expect(otherViaB.status).toBe(404);
    expect(errorOf(otherViaB)).toEqual(errorOf(otherOnA));
    expect(await audited('browser_session.uploaded', sessionId)).toEqual([]);
    expect(portal.documents).toEqual([]);

    // Over node A's cap (25 MiB a file), streamed through B: A's 413, nothing set, the chooser still waits.
    const big = await send(b, owner, 'POST', path, { body: files('big.pdf', Buffer.alloc(25 * 1024 * 1024 + 1)) });
    expect(big.status).toBe(413);
    expect(big.json()).toMatchObject({ error: { code: 'payload_too_large' } });
    expect(await audited('browser_session.uploaded', sessionId)).toEqual([]);

    const sent = await send(b, owner, 'POST', path, { body: files('statement.pdf', document), ip: '198.51.100.22' });
    expect(sent.status).toBe(200);
    const sha256 = createHash('sha256').update(document).digest('hex');
    expect(sent.json()).toEqual({ files: [{ name: 'statement.pdf', size: document.length, sha256 }] });
    expect(await audited('browser_session.uploaded', sessionId)).toEqual([
      expect.objectContaining({ outcome: 'success', actor_id: owner.userId, node_id: 'node-a', source_ip: '198.51.100.22', details: expect.objectContaining({ sizes: [document.length], sha256: [sha256] }) }),
    ]);
    await viewer.until(() => viewer.texts.some((m) => m.type === 'file_chooser_closed' && m.id === chooser.id), 'the chooser closed');
    // The form is submitted from the live view: the upload button follows the input.
    press(viewer, 'Tab', 'Tab');
    press(viewer, 'Enter', 'Enter');
    await expect.poll(() => portal.documents[0], { timeout: 30_000 }).toEqual({ name: 'statement.pdf', size: document.length });

    // A cancel through B of the chooser already answered: A's answer, file_chooser_closed.
    const cancel = await send(b, owner, 'DELETE', path);
    expect(cancel.status).toBe(409);
    expect(cancel.json()).toMatchObject({ error: { code: 'file_chooser_closed' } });
  });

  it('an agent opens a session through node A and drives it through node B: snapshot and click run on A, audited there; after an administrator ends it, the usual session_ended', async () => {
    const onA = cluster.callerOn(a, a);
    const agent = await agentToken(onA, 'relay-agent');
    carried.push(agent.token);
    await a.services.grants.create({ subjectKind: 'user', subjectId: agent.userId, assetId: 'relay-statements', actions: ['connect'] }, ADMIN_WEB);
    const viaA = await connect(a.url, agent.token);
    const viaB = await connect(b.url, agent.token, { 'x-forwarded-for': '198.51.100.23' });
    mcpClients.push(viaA, viaB);
    const call = async (client: Client, name: string, args: Record<string, unknown>) => {
      const result = await client.callTool({ name, arguments: args }, undefined, { timeout: 60_000 });
      answers.push(JSON.stringify(result));
      return { text: textOf(result), isError: result.isError === true };
    };

    const opened = await call(viaA, 'open_session', { asset: 'relay-statements' });
    expect(opened.isError, opened.text).toBe(false);
    const session = SESSION_ID.exec(opened.text)![1]!;
    expect((await a.server.browser.sessions.get(session, ADMIN_WEB)).nodeId).toBe('node-a');

    const snapshot = await call(viaB, 'snapshot', { session });
    expect(snapshot.isError, snapshot.text).toBe(false);
    expect(snapshot.text).toContain('Make a transfer');
    const ref = /link "Make a transfer"[^\n]*\[ref=(\w+)\]/.exec(snapshot.text)![1]!;
    const clicked = await call(viaB, 'click', { session, ref });
    expect(clicked.isError, clicked.text).toBe(false);
    expect(clicked.text).toMatch(/^Clicked \w+: the page navigated\./);

    // Each call recorded once, by node A, with the client address B determined.
    const calls = await audited('mcp.tool_called', session);
    expect(calls.map((c) => [c.details.tool, c.outcome, c.node_id])).toEqual([
      ['open_session', 'success', 'node-a'],
      ['snapshot', 'success', 'node-a'],
      ['click', 'success', 'node-a'],
    ]);
    expect(calls.slice(1).map((c) => c.source_ip)).toEqual(['198.51.100.23', '198.51.100.23']);

    // Another agent naming this session: through B what it gets on A (the session is not theirs), and nothing relayed for it.
    const stranger = await agentToken(onA, 'relay-stranger');
    carried.push(stranger.token);
    await a.services.grants.create({ subjectKind: 'user', subjectId: stranger.userId, assetId: 'relay-statements', actions: ['connect'] }, ADMIN_WEB);
    const strangerViaB = await connect(b.url, stranger.token);
    const strangerOnA = await connect(a.url, stranger.token);
    mcpClients.push(strangerViaB, strangerOnA);
    const refusedViaB = await call(strangerViaB, 'snapshot', { session });
    expect(refusedViaB).toEqual({ isError: true, text: 'error [not_found]: No such session.' });
    expect(await call(strangerOnA, 'snapshot', { session })).toEqual(refusedViaB);
    // The session is not visible to them, so B answered itself: one refusal recorded by each node.
    const strangers = (await audited('mcp.tool_called', session)).filter((c) => c.actor_id === stranger.userId);
    expect(strangers.map((c) => [c.outcome, c.node_id]).sort()).toEqual([
      ['failure', 'node-a'],
      ['failure', 'node-b'],
    ]);

    // Node A unreachable: a tool error naming node_unavailable, nothing run.
    const unreachable = await nodeAElsewhere('unreachable', () => call(viaB, 'snapshot', { session }));
    expect(unreachable).toEqual({ isError: true, text: expect.stringMatching(/^error \[node_unavailable\]: /) });
    expect((await audited('mcp.tool_called', session)).filter((c) => c.actor_id === agent.userId)).toHaveLength(3);

    // An administrator ends it on A: through B, the usual answer (handled by B from the database), and A's own answer agrees.
    await a.server.browser.sessions.end(session, ADMIN_WEB, { message: 'relay test' });
    const afterEnd = await call(viaB, 'snapshot', { session });
    expect(afterEnd).toEqual({ isError: true, text: 'error [session_ended]: This session was ended by an administrator.' });
    expect(await call(viaA, 'snapshot', { session })).toEqual(afterEnd);
  });

  it('the portal password is in no answer, no log of either node and no audit record; the caller credentials the relay carried are in no log', async () => {
    expect(answers.length).toBeGreaterThan(0);
    for (const text of answers) expect(text).not.toContain(PASSWORD);
    expect(a.logs.text()).not.toContain(PASSWORD);
    expect(b.logs.text()).not.toContain(PASSWORD);
    expect(carried).toHaveLength(4);
    for (const secret of carried) {
      expect(a.logs.text()).not.toContain(secret);
      expect(b.logs.text()).not.toContain(secret);
    }
    await a.services.audit.trail.flush();
    await b.services.audit.trail.flush();
    const { rows } = await sql<{ details: unknown }>`SELECT details FROM audit_events`.execute(a.services.database.db);
    expect(JSON.stringify(rows)).not.toContain(PASSWORD);
  });
});
