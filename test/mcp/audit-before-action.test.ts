import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoPortal } from '../../src/cli/commands/demo-portal-seed.js';
import { AppError } from '../../src/core/index.js';
import { createDemoPortal, type DemoPortal } from '../../src/demo-portal/index.js';
import type { Principal } from '../../src/identity/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ADMIN, agentToken, auditRows, connect, rawPost, textOf, type AuditRow } from './support.js';

// No audit, no action: a tool that acts is recorded (mcp.tool_started) before it runs, and a call whose
// start cannot be recorded changes nothing. Its outcome (mcp.tool_called) is recorded after, as for every tool.

const USERNAME = 'audit-before-user';
const PASSWORD = 'audit-before-Pw-4c1e';
const ADMIN_WEB: Principal = { kind: 'user', id: 'test-admin', name: 'Test admin', roles: ['admin'], groups: [], via: 'session', mfa: true };
/** The tools that act, each recorded before it runs; every other tool only reads. */
const ACTING = ['open_session', 'close_session', 'click', 'type', 'select_option', 'press_key', 'hover', 'navigate', 'go_back', 'fill_credential'];
const REF = (line: RegExp, snapshot: string): string => {
  const m = new RegExp(`${line.source}[^\\n]*\\[ref=(\\w+)\\]`).exec(snapshot);
  if (!m) throw new Error(`no ref for ${line} in:\n${snapshot}`);
  return m[1]!;
};
const urlOf = (snapshot: string): string => /\nurl: (\S+)/.exec(snapshot)![1]!;

describe('MCP tools that act are audited before they run (real server, demo portal, Chromium)', () => {
  let ts: TestServer;
  let portal: DemoPortal;
  let agent: Awaited<ReturnType<typeof agentToken>>;
  let client: Client;

  const call = async (name: string, args: Record<string, unknown>) => {
    const result = await client.callTool({ name, arguments: args }, undefined, { timeout: 60_000 });
    return { text: textOf(result), isError: result.isError === true };
  };
  const open = async () => {
    const opened = await call('open_session', { asset: 'demo-bank' });
    expect(opened.isError, opened.text).toBe(false);
    return /Session ([0-9a-f-]{36}) on asset demo-bank/.exec(opened.text)![1]!;
  };
  const rowsOf = async (session: string): Promise<AuditRow[]> => (await auditRows(ts)).filter((r) => r.target_id === session && r.action.startsWith('mcp.'));

  /** While `run` runs, the trail refuses the actions given (all when none), as it does without database and spool. */
  async function auditDown<T>(actions: string[], run: () => Promise<T>): Promise<T> {
    const trail = ts.services.audit.trail;
    const record = trail.record.bind(trail);
    trail.record = (event) => (actions.length === 0 || actions.includes(event.action) ? Promise.reject(new AppError('audit_unavailable')) : record(event));
    try {
      return await run();
    } finally {
      trail.record = record;
    }
  }

  beforeAll(async () => {
    ts = await startTestServer({ WEBASSET_API_RATE_LIMIT: '100000' });
    portal = createDemoPortal({ username: USERNAME, password: PASSWORD });
    const url = await portal.start(0, '127.0.0.1');
    await seedDemoPortal(ts.services, { url, credentials: { username: USERNAME, password: PASSWORD }, grantTo: undefined }, { kind: 'user', id: 'test-admin', name: 'Test admin' }, ADMIN);
    agent = await agentToken(ts, 'audit-before-agent');
    await ts.services.grants.create({ subjectKind: 'user', subjectId: agent.userId, assetId: 'demo-bank', actions: ['connect'] }, ADMIN);
    client = await connect(ts.url, agent.token);
  }, 120_000);
  afterEach(async () => {
    for (const s of await ts.server.browser.sessions.list(ADMIN_WEB, { all: true })) {
      if (s.state !== 'ended') await ts.server.browser.sessions.end(s.id, ADMIN_WEB).catch(() => undefined);
    }
  });
  afterAll(async () => {
    await client?.close();
    await ts?.stop();
    await portal?.stop();
  });

  it('lists as read-only exactly the tools it does not record before they run', async () => {
    const { tools } = await client.listTools();
    expect(tools.filter((t) => t.annotations?.readOnlyHint !== true).map((t) => t.name).sort()).toEqual([...ACTING].sort());
  });

  it('refuses navigate and click with audit_unavailable and leaves the page where it was when the trail cannot record', async () => {
    const session = await open();
    const accounts = (await call('snapshot', { session })).text;
    const before = urlOf(accounts);
    const origin = new URL(before).origin;

    // The whole trail down: nothing is recorded and nothing happens.
    const navigated = await auditDown([], () => call('navigate', { session, url: `${origin}/profile` }));
    expect(navigated).toEqual({ isError: true, text: `error [audit_unavailable]: ${new AppError('audit_unavailable').publicMessage}` });
    expect(urlOf((await call('snapshot', { session })).text)).toBe(before);
    const clicked = await auditDown([], () => call('click', { session, ref: REF(/link "Make a transfer"/, accounts) }));
    expect(clicked).toEqual({ isError: true, text: `error [audit_unavailable]: ${new AppError('audit_unavailable').publicMessage}` });
    expect(urlOf((await call('snapshot', { session })).text)).toBe(before);
    // Only the start refused: still nothing happens, and the refusal itself is recorded after.
    const startRefused = await auditDown(['mcp.tool_started'], () => call('navigate', { session, url: `${origin}/profile` }));
    expect(startRefused.text).toMatch(/^error \[audit_unavailable\]: .*the action was refused\.$/);

    const after = (await call('snapshot', { session })).text;
    expect(urlOf(after)).toBe(before);
    expect(after).not.toContain('Your password is');
    const rows = await rowsOf(session);
    expect(rows.filter((r) => r.action === 'mcp.tool_started')).toEqual([]);
    expect(rows.filter((r) => r.action === 'mcp.tool_called').map((r) => [r.details.tool, r.outcome, r.details.code ?? null])).toEqual([
      ['open_session', 'success', null],
      ['snapshot', 'success', null],
      ['snapshot', 'success', null],
      ['snapshot', 'success', null],
      ['navigate', 'failure', 'audit_unavailable'],
      ['snapshot', 'success', null],
    ]);
  }, 120_000);

  it('says truthfully that an acting call ran when only its outcome could not be recorded', async () => {
    const session = await open();
    const accounts = (await call('snapshot', { session })).text;
    const clicked = await auditDown(['mcp.tool_called'], () => call('click', { session, ref: REF(/link "Make a transfer"/, accounts) }));
    expect(clicked.isError).toBe(true);
    expect(clicked.text).toMatch(/^error \[audit_unavailable\]: The click call ran \(its start is recorded\), but its outcome could not be recorded/);
    expect(clicked.text).not.toContain('refused');
    expect(urlOf((await call('snapshot', { session })).text)).toMatch(/\/transfer$/);
    const started = (await rowsOf(session)).filter((r) => r.action === 'mcp.tool_started');
    expect(started.map((r) => [r.details.tool, r.details.session])).toEqual([['click', session]]);
  }, 120_000);

  it('records each acting call before it runs and its outcome after, paired by callId; read-only calls after only', async () => {
    const session = await open();
    const accounts = (await call('snapshot', { session })).text;
    const origin = new URL(urlOf(accounts)).origin;
    await call('hover', { session, ref: REF(/link "Make a transfer"/, accounts) });
    await call('click', { session, ref: REF(/link "Make a transfer"/, accounts) });
    const form = (await call('snapshot', { session })).text;
    await call('type', { session, ref: REF(/textbox "Amount \(EUR\)"/, form), text: '1.00' });
    await call('select_option', { session, ref: REF(/combobox "Purpose \(optional\)"/, form), values: ['Rent'] });
    await call('fill_credential', { session, ref: REF(/textbox "To \(IBAN\)"/, form), field: 'username' });
    await call('press_key', { session, key: 'Tab' });
    await call('wait_for', { session, text: 'Amount', timeout: 5 });
    await call('screenshot', { session });
    await call('navigate', { session, url: `${origin}/accounts` });
    await call('go_back', { session });
    await call('list_sessions', {});
    expect((await call('close_session', { session })).text).toBe(`Session ${session} ended.`);

    const all = await auditRows(ts);
    const mine = all.filter((r) => r.actor_id === agent.userId && r.action.startsWith('mcp.') && (r.details.session === session || r.details.tool === 'open_session' || r.details.tool === 'list_sessions'));
    const started = mine.filter((r) => r.action === 'mcp.tool_started');
    // open_session's start names no session yet: the last one started before this session's id existed.
    const openStart = started.filter((r) => r.details.tool === 'open_session').at(-1)!;
    const ownStarts = [openStart, ...started.filter((r) => r.details.session === session)];
    expect(ownStarts.map((r) => r.details.tool)).toEqual(['open_session', 'hover', 'click', 'type', 'select_option', 'fill_credential', 'press_key', 'navigate', 'go_back', 'close_session']);
    for (const start of ownStarts) {
      const startAt = all.indexOf(start);
      const end = all.find((r) => r.action === 'mcp.tool_called' && r.details.callId === start.details.callId)!;
      expect(end, `${start.details.tool}'s outcome`).toBeDefined();
      expect(all.indexOf(end), `${start.details.tool}: started before its outcome`).toBeGreaterThan(startAt);
      expect([end.details.tool, end.target_id, end.details.session]).toEqual([start.details.tool, session, session]);
      expect(start.details.session).toBe(start.details.tool === 'open_session' ? null : session);
      expect(start.outcome).toBe('success');
    }
    // The start of open_session comes before the session's own start; type's text is masked before the field is known.
    expect(all.indexOf(openStart)).toBeLessThan(all.findIndex((r) => r.action === 'browser_session.started' && r.target_id === session));
    expect(ownStarts.find((r) => r.details.tool === 'type')!.details.args).toEqual({ session, ref: expect.any(String), text: '[MASKED]' });
    const readOnly = mine.filter((r) => r.action === 'mcp.tool_called' && !ACTING.includes(r.details.tool as string));
    expect(new Set(readOnly.map((r) => r.details.tool))).toEqual(new Set(['snapshot', 'wait_for', 'screenshot', 'list_sessions']));
    expect(readOnly.every((r) => r.details.callId === undefined)).toBe(true);
  }, 180_000);
});

describe('malformed tools/call params (raw JSON-RPC)', () => {
  let ts: TestServer;
  let agent: Awaited<ReturnType<typeof agentToken>>;

  beforeAll(async () => {
    ts = await startTestServer({ WEBASSET_API_RATE_LIMIT: '100000', WEBASSET_MCP_TOOL_RATE_LIMIT: '4' });
    agent = await agentToken(ts, 'malformed-agent');
  }, 60_000);
  afterAll(async () => {
    await ts?.stop();
  });

  it('answers -32602 with a short stable message, audited and counted like a refused call', async () => {
    const post = async (params: unknown) => {
      const response = await rawPost(`${ts.url}/mcp`, { authorization: `Bearer ${agent.token}` }, { jsonrpc: '2.0', id: 7, method: 'tools/call', params });
      expect(response.status).toBe(200);
      return (await response.json()) as { id: number; error?: { code: number; message: string }; result?: unknown };
    };
    const cases = [{ name: 'list_assets', arguments: 'str' }, { name: 'list_assets', arguments: [1] }, { name: 5, arguments: {} }];
    for (const params of cases) {
      const answer = await post(params);
      expect(answer, JSON.stringify(params)).toEqual({
        jsonrpc: '2.0',
        id: 7,
        error: { code: -32602, message: 'Invalid params: tools/call takes name, a tool name (a string), and arguments, an object (optional).' },
      });
    }
    const rows = (await auditRows(ts, 'mcp.tool_called')).filter((r) => r.actor_id === agent.userId);
    expect(rows.map((r) => [r.outcome, r.details.tool, r.details.args, r.details.code])).toEqual([
      ['failure', 'list_assets', null, 'invalid_request'],
      ['failure', 'list_assets', null, 'invalid_request'],
      ['failure', null, null, 'invalid_request'],
    ]);
    // Counted against the token's limit (4 a minute): one good call left, then refused.
    expect(JSON.stringify((await post({ name: 'list_assets', arguments: {} })).result)).toContain('No assets');
    expect(JSON.stringify((await post({ name: 'list_assets', arguments: {} })).result)).toContain('error [rate_limited]');
  }, 60_000);
});
