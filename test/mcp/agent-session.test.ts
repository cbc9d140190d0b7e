import { execFile } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoPortal } from '../../src/cli/commands/demo-portal-seed.js';
import { createDemoPortal, type DemoPortal } from '../../src/demo-portal/index.js';
import type { Principal } from '../../src/identity/index.js';
import { AGENT_CHOOSER_REASON } from '../../src/browser/index.js';
import { FILE_CHOOSER_DISMISSED, FILE_CHOOSER_DISMISSED_MEANWHILE, UNTRUSTED_PREFACE } from '../../src/mcp/index.js';
import { addDemoTransferAsset } from '../http/live-view-fixtures.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ADMIN, agentToken, auditRows, auditText, connect, textOf } from './support.js';

// The canaries: the portal's credential. They must appear in no tool result, error, log, audit record or recording.
export const CANARY_PASSWORD = 'mcp-Canary-Pw-7e1f93b2c4';
export const CANARY_SEED = 'NBSWY3DPORSXG5DDMFXGC4TZNVSWK43U';
const USERNAME = 'mcp-agent-portal-user';
const SESSION_ID = /Session ([0-9a-f-]{36}) on asset demo-bank/;
const REF = (line: RegExp, snapshot: string): string => {
  const m = new RegExp(`${line.source}[^\\n]*\\[ref=(\\w+)\\]`).exec(snapshot);
  if (!m) throw new Error(`no ref for ${line} in:\n${snapshot}`);
  return m[1]!;
};
/**
 * Fails when `text` holds a canary: as is, percent-encoded, the seed in lower case, or (what a
 * model would read) with the invisible characters and white space the demo portal's profile page
 * laces the password with taken out.
 */
function expectNoCanary(text: string): void {
  for (const canary of [CANARY_PASSWORD, encodeURIComponent(CANARY_PASSWORD), CANARY_SEED, CANARY_SEED.toLowerCase()]) expect(text).not.toContain(canary);
  const seen = text.replace(/&#8203;|&#x2060;|&shy;|&zwj;|%E2%80%8B|\\u200[bcd]|[\u00ad\u200b-\u200d\u2060\ufeff\s]/gi, '');
  for (const canary of [CANARY_PASSWORD, CANARY_SEED, CANARY_SEED.toLowerCase()]) expect(seen).not.toContain(canary);
}
const INSPECTOR = join(import.meta.dirname, '../../node_modules/.bin/mcp-inspector-cli');
// inspector-cli 1.0.3 finds its package.json through ../package.json of the working folder: a folder of this project.
const INSPECTOR_CWD = join(import.meta.dirname, '..');
const run = promisify(execFile);
const ADMIN_WEB: Principal = { kind: 'user', id: 'test-admin', name: 'Test admin', roles: ['admin'], groups: [], via: 'session', mfa: true };

describe('an agent drives the demo portal over /mcp (SDK client, real Chromium)', () => {
  let ts: TestServer;
  let portal: DemoPortal;
  let agent: Awaited<ReturnType<typeof agentToken>>;
  let client: Client;
  /** Every result and error the agent saw, for the canary search. */
  const transcript: string[] = [];

  const call = async (name: string, args: Record<string, unknown>) => {
    const result = await client.callTool({ name, arguments: args }, undefined, { timeout: 60_000 });
    transcript.push(JSON.stringify(result));
    return { result, text: textOf(result), isError: result.isError === true };
  };
  /** Grants the agent `connect` on an asset, opens a session there and reads its first page. */
  const openOn = async (assetId: string) => {
    await ts.services.grants.create({ subjectKind: 'user', subjectId: agent.userId, assetId, actions: ['connect'] }, ADMIN);
    const opened = await call('open_session', { asset: assetId });
    expect(opened.isError, opened.text).toBe(false);
    const session = new RegExp(`Session ([0-9a-f-]{36}) on asset ${assetId}`).exec(opened.text)![1]!;
    return { session, page: (await call('snapshot', { session })).text };
  };
  /** Opens a session on the demo portal (granted to the agent by the fixture) and gives its id. */
  const openDemo = async () => {
    const opened = await call('open_session', { asset: 'demo-bank' });
    expect(opened.isError, opened.text).toBe(false);
    return SESSION_ID.exec(opened.text)![1]!;
  };
  /** The agent's account as a bearer owner would attach to its session. */
  const agentOwner = (): Principal => ({ kind: 'agent', id: agent.userId, name: 'demo-agent', roles: ['agent'], groups: [], via: 'api_token', mfa: false, scopes: ['mcp'] });

  beforeAll(async () => {
    ts = await startTestServer({ WEBASSET_API_RATE_LIMIT: '100000' });
    portal = createDemoPortal({ username: USERNAME, password: CANARY_PASSWORD, totpSeed: CANARY_SEED });
    const url = await portal.start(0, '127.0.0.1');
    await seedDemoPortal(ts.services, { url, credentials: { username: USERNAME, password: CANARY_PASSWORD, totpSeed: CANARY_SEED }, grantTo: undefined }, { kind: 'user', id: 'test-admin', name: 'Test admin' }, ADMIN);
    agent = await agentToken(ts, 'demo-agent');
    await ts.services.grants.create({ subjectKind: 'user', subjectId: agent.userId, assetId: 'demo-bank', actions: ['connect'] }, ADMIN);
    client = await connect(ts.url, agent.token);
  }, 120_000);
  // A failed test leaves its session open; the credential's limit would then refuse the next test's session.
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

  it('opens the portal logged in, reads the balance, submits a transfer, is refused outside the allowlist, stays usable, and closes; every call audited and recorded', async () => {
    expect((await client.listTools()).tools).toHaveLength(15);
    expect((await call('list_assets', {})).text).toContain('demo-bank  Demo Bank');

    const session = await openDemo();

    const accounts = await call('snapshot', { session });
    expect(accounts.text.startsWith(`${UNTRUSTED_PREFACE}\n\`\`\`untrusted-page-content\nurl: `)).toBe(true);
    expect(accounts.text).toContain('Accounts');
    expect(accounts.text).toContain(`Signed in as`);
    expect(accounts.text).toContain('€12,345.67');

    const toTransfer = await call('click', { session, ref: REF(/link "Make a transfer"/, accounts.text) });
    expect(toTransfer.text).toMatch(/^Clicked \w+: the page navigated\.\n/);
    expect(toTransfer.text).toContain('\ntarget: link "Make a transfer"\nurl: ');
    const form = (await call('snapshot', { session })).text;
    expect((await call('type', { session, ref: REF(/textbox "To \(IBAN\)"/, form), text: 'NL02ABNA0123456789' })).isError).toBe(false);
    expect((await call('type', { session, ref: REF(/textbox "Amount \(EUR\)"/, form), text: '45.50' })).isError).toBe(false);
    expect((await call('select_option', { session, ref: REF(/combobox "Purpose \(optional\)"/, form), values: ['Rent'] })).isError).toBe(false);
    await call('hover', { session, ref: REF(/button "Send"/, form) });
    const sent = await call('click', { session, ref: REF(/button "Send"/, form) });
    expect(sent.isError, sent.text).toBe(false);
    const waited = await call('wait_for', { session, text: 'Sent €45.50', timeout: 10 });
    expect(waited.isError, waited.text).toBe(false);
    const result = (await call('snapshot', { session })).text;
    expect(result).toContain('Sent €45.50 to NL02ABNA0123456789.');
    expect(result).toContain('€12,300.17');

    const shot = await call('screenshot', { session });
    const image = (shot.result.content as Array<{ type: string; mimeType?: string; data?: string }>).find((c) => c.type === 'image')!;
    expect(image.mimeType).toBe('image/jpeg');
    expect(Buffer.from(image.data!, 'base64').subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));

    // Outside the allowlist: refused and audited; the session goes on.
    const outside = await call('navigate', { session, url: 'https://example.com/' });
    expect(outside.isError).toBe(true);
    expect(outside.text).toMatch(/^error \[forbidden\]/);
    await call('press_key', { session, key: 'Tab' });
    const back = await call('go_back', { session });
    expect(back.isError, back.text).toBe(false);
    expect((await call('snapshot', { session })).isError).toBe(false);

    const closed = await call('close_session', { session });
    expect(closed.text).toBe(`Session ${session} ended.`);
    const after = await call('snapshot', { session });
    expect(after.text).toMatch(/^error \[session_ended\]/);

    const calls = (await auditRows(ts, 'mcp.tool_called')).filter((r) => r.actor_id === agent.userId);
    expect(calls).toHaveLength(transcript.length);
    expect(calls.map((r) => r.details.tool)).toEqual([
      'list_assets', 'open_session', 'snapshot', 'click', 'snapshot', 'type', 'type', 'select_option', 'hover', 'click', 'wait_for', 'snapshot',
      'screenshot', 'navigate', 'press_key', 'go_back', 'snapshot', 'close_session', 'snapshot',
    ]);
    const typed = calls.filter((r) => r.details.tool === 'type').map((r) => r.details.args.text);
    expect(typed).toEqual(['NL02ABNA0123456789', '45.50']);
    const refused = calls.find((r) => r.details.tool === 'navigate')!;
    expect([refused.outcome, refused.details.code, refused.target_id]).toEqual(['denied', 'forbidden', session]);
    expect((await auditRows(ts, 'browser_session.blocked')).some((r) => r.target_id === session && String(r.details.url).startsWith('https://example.com'))).toBe(true);

    const recording = (await ts.services.recordings.list({ userId: agent.userId })).items.find((r) => r.sessionId === session)!;
    const tools = (await ts.services.recordings.events(recording.id)).flatMap((e) => ((e as { type?: string }).type === 'tool' ? [(e as { tool: string }).tool] : []));
    expect(tools).toEqual(expect.arrayContaining(['snapshot', 'click', 'type', 'select_option', 'wait_for', 'screenshot', 'navigate', 'go_back']));
  }, 240_000);

  it('never shows the password or the TOTP seed: careless page, fill_credential, typed password fields, errors, logs, audit and recording', async () => {
    const session = await openDemo();
    const accounts = (await call('snapshot', { session })).text;
    const origin = /url: (http:\/\/127\.0\.0\.1:\d+)\//.exec(accounts)![1]!;

    const careless = await call('navigate', { session, url: `${origin}/profile` });
    expect(careless.isError, careless.text).toBe(false);
    const profile = (await call('snapshot', { session })).text;
    expect(profile).toContain('Your password is');
    expect(profile).toContain('[REDACTED]');
    // The hostile tricks: invisible characters or spaces between the letters, two inline halves, %E2%80%8B in a link.
    expect(profile).toContain('Spelled with invisible characters: [REDACTED].');
    expect(profile).toContain('Spelled out: [REDACTED].');
    expect(profile).toContain('In two halves: [REDACTED].');
    expect(profile).toContain('/url: /accounts?zw=[REDACTED]');
    const zwLink = await call('click', { session, ref: REF(/link "Accounts \(zero-width hint\)"/, profile) });
    expect(zwLink.isError, zwLink.text).toBe(false);
    expect(zwLink.text).toContain('/accounts?zw=[REDACTED]');
    await call('go_back', { session });
    await call('screenshot', { session });
    await call('wait_for', { session, text: CANARY_PASSWORD, timeout: 0.5 });
    await call('navigate', { session, url: `${origin}/accounts?echo=${encodeURIComponent(CANARY_PASSWORD)}` });

    // A login form again: fill_credential types the vault's values; `type` into the password field is masked in the audit record.
    await call('navigate', { session, url: `${origin}/login` });
    const login = (await call('snapshot', { session })).text;
    const passwordRef = REF(/textbox "Password"/, login);
    const filled = await call('fill_credential', { session, ref: passwordRef, field: 'password' });
    expect(filled.text).toBe('filled');
    expect((await call('fill_credential', { session, ref: REF(/textbox "Username"/, login), field: 'totp' })).text).toBe('filled');
    const afterFill = (await call('snapshot', { session })).text;
    expect(afterFill).not.toContain(CANARY_PASSWORD);
    // The current one-time code, typed into a text field, is a secret of that field too.
    expect(afterFill).toMatch(/textbox "Username"[^\n]*: "?\[REDACTED\]"?/);
    expect((await call('fill_credential', { session, ref: passwordRef, field: 'totpSeed' })).text).toMatch(/^error \[invalid_request\]/);
    await call('type', { session, ref: passwordRef, text: 'typed-secret-0042' });
    await call('close_session', { session });

    const calls = (await auditRows(ts, 'mcp.tool_called')).filter((r) => r.target_id === session);
    // Each record names the token that made the call (its id; the token itself never).
    expect(calls.every((r) => r.details.tokenId === agent.tokenId)).toBe(true);
    const typedPassword = calls.find((r) => r.details.tool === 'type')!;
    expect(typedPassword.details.args.text).toBe('[MASKED]');
    expect(calls.filter((r) => r.details.tool === 'fill_credential' && r.outcome === 'success').map((r) => r.details.args)).toEqual([
      { session, ref: passwordRef, field: 'password' },
      { session, ref: REF(/textbox "Username"/, login), field: 'totp' },
    ]);
    const recording = (await ts.services.recordings.list({ userId: agent.userId })).items.find((r) => r.sessionId === session)!;
    const recorded = JSON.stringify(await ts.services.recordings.events(recording.id));
    expect(recorded).not.toContain('typed-secret-0042');

    expectNoCanary([transcript.join('\n'), await auditText(ts), ts.logs.text(), recorded].join('\n'));
  }, 240_000);

  it('is listed with operators\' sessions and watchable live; the next call fails with "ended by an administrator" once an administrator ends it', async () => {
    const session = await openDemo();
    expect((await call('snapshot', { session })).isError).toBe(false);
    // The administrator's list of everyone's sessions holds the agent's, as an agent's.
    const all = await ts.server.browser.sessions.list(ADMIN_WEB, { all: true });
    expect(all.find((s) => s.id === session)).toMatchObject({ principalKind: 'agent', userId: agent.userId, state: 'active' });
    // Watching it live is the live view's path (watch on the asset): a read-only attach, then the session's frames.
    const watcherAccount = await ts.services.users.create({ username: 'watching-admin', kind: 'person', roles: ['admin'], source: 'local' }, ADMIN);
    await ts.services.grants.create({ subjectKind: 'user', subjectId: watcherAccount.id, assetId: 'demo-bank', actions: ['watch'] }, ADMIN);
    const watcher: Principal = { ...ADMIN_WEB, id: watcherAccount.id, name: 'Watching admin' };
    const watched = await ts.server.browser.sessions.attach(session, watcher, 'watch');
    const frame = await new Promise<{ width: number; bytes: number }>((resolve, reject) => {
      let stop: (() => Promise<void>) | undefined;
      const timer = setTimeout(() => reject(new Error('no frame of the agent session reached the watcher')), 60_000);
      void watched.browser
        .startScreencast({ maxWidth: 640, maxHeight: 360, quality: 40 }, (f) => {
          f.ack();
          clearTimeout(timer);
          void stop?.();
          resolve({ width: f.width, bytes: f.data.length });
        })
        .then((s) => (stop = s), reject);
    });
    expect(frame.bytes).toBeGreaterThan(0);
    expect((await auditRows(ts, 'browser_session.attached')).some((r) => r.target_id === session && r.details.mode === 'watch')).toBe(true);
    await ts.server.browser.sessions.end(session, ADMIN_WEB, { message: 'stop now' });
    const next = await call('click', { session, ref: 'e1' });
    expect(next.isError).toBe(true);
    expect(next.text).toMatch(/^error \[session_ended\]: .*ended by an administrator/);
    const listed = await call('list_sessions', {});
    expect(listed.text).toContain(`${session}  asset demo-bank  ended (admin`);
  }, 240_000);

  it('a click that opens a file chooser: dismissed (agents give no files), said in the result, audited as a blocked upload; no chooser is left waiting', async () => {
    // The documents page of a portal that allows uploads, reached as live-view-transfers.test.ts does.
    const documentsPortal = createDemoPortal({ username: USERNAME, password: CANARY_PASSWORD, totpSeed: CANARY_SEED });
    const seen = transcript.length;
    try {
      const portalUrl = await documentsPortal.start(0, '127.0.0.1');
      await addDemoTransferAsset(ts, { id: 'agent-documents', portalUrl, username: USERNAME, password: CANARY_PASSWORD, policy: 'allow', endsOn: 'documents', connect: [] });
      // The seed too, so that the canary search below covers every secret the session holds.
      const values = new Map([['username', Buffer.from(USERNAME)], ['password', Buffer.from(CANARY_PASSWORD)], ['totpSeed', Buffer.from(CANARY_SEED)]]);
      await ts.services.vault.set({ entryId: 'agent-documents-login', values }, ADMIN);
      const { session, page } = await openOn('agent-documents');
      const clicked = await call('click', { session, ref: REF(/button "Document"/, page) });
      expect(clicked.isError, clicked.text).toBe(false);
      // Our sentence, on the first line, outside the fence of page content.
      const [head] = clicked.text.split('\n');
      expect(head).toMatch(/^Clicked \w+: [a-z ]+\. /);
      expect(head!.endsWith(` ${FILE_CHOOSER_DISMISSED}`)).toBe(true);

      const blocked = (await auditRows(ts, 'browser_session.blocked')).filter((r) => r.target_id === session);
      expect(blocked).toEqual([expect.objectContaining({ outcome: 'denied', details: expect.objectContaining({ what: 'upload', reason: AGENT_CHOOSER_REASON }) })]);
      const clickCall = (await auditRows(ts, 'mcp.tool_called')).filter((r) => r.target_id === session && r.details.tool === 'click');
      expect(clickCall).toHaveLength(1);
      expect(clickCall[0]!.outcome).toBe('success');
      // Its owner (the agent's account, as a bearer owner would attach) finds no chooser waiting.
      const owner = agentOwner();
      const attached = await ts.server.browser.sessions.attach(session, owner, 'control');
      const notices: string[] = [];
      attached.transfers!.subscribe((notice) => notices.push(notice.type))();
      expect(notices).not.toContain('file_chooser');
      expect(documentsPortal.documents).toEqual([]);
      // The session goes on.
      expect((await call('snapshot', { session })).isError).toBe(false);
      // A second chooser, and a refused call, so that an error and a repeated dismissal are searched too.
      expect((await call('click', { session, ref: REF(/button "Document"/, page) })).text).toContain(FILE_CHOOSER_DISMISSED);
      expect((await call('type', { session, ref: 'e424242', text: 'x' })).isError).toBe(true);
      await call('close_session', { session });

      // Every result and error of this test, the audit rows, the logs and the recording hold no canary.
      const recording = (await ts.services.recordings.list({ userId: agent.userId })).items.find((r) => r.sessionId === session)!;
      const recorded = JSON.stringify(await ts.services.recordings.events(recording.id));
      expect(transcript.length - seen).toBeGreaterThanOrEqual(6);
      expectNoCanary([transcript.slice(seen).join('\n'), await auditText(ts), ts.logs.text(), recorded].join('\n'));
    } finally {
      await documentsPortal.stop();
    }
  }, 240_000);

  it("a file chooser a page timer opens after the agent's click returned: dismissed too in an agent's session, audited once, said in the next result only; an operator's session still offers it to the owner's view", async () => {
    const portal = await startLaterChooserPortal();
    try {
      await ts.services.vault.set({ entryId: 'agent-later-login', values: new Map([['username', Buffer.from(USERNAME)], ['password', Buffer.from(CANARY_PASSWORD)]]) }, ADMIN);
      await ts.services.assets.create(
        {
          id: 'agent-later',
          name: 'Later chooser',
          url: `${portal.url}/login`,
          credential: 'agent-later-login',
          allowInsecureHttp: true,
          loginRecipe: { steps: [{ fill: '#username', value: '{{username}}' }, { fill: '#password', value: '{{password}}' }, { click: '#sign-in' }, { waitFor: { selector: '#later' } }], injection: 'intercept' },
          successCheck: { selector: '#later' },
          policy: { downloads: 'block', uploads: 'allow' },
        },
        ADMIN,
      );

      const { session, page } = await openOn('agent-later');
      // The page's chooser waits for /release, which answers only once the click's result is back:
      // the chooser opens after the action, within the click's user activation.
      const clicked = await call('click', { session, ref: REF(/button "Attach later"/, page) });
      expect(clicked.isError, clicked.text).toBe(false);
      expect(clicked.text).not.toContain(FILE_CHOOSER_DISMISSED);
      expect(clicked.text).not.toContain(FILE_CHOOSER_DISMISSED_MEANWHILE);
      portal.release();
      const blocked = async () => (await auditRows(ts, 'browser_session.blocked')).filter((r) => r.target_id === session);
      await eventually(async () => ((await blocked()).length > 0 ? true : undefined), 30_000, () => 'the dismissed chooser recorded');
      expect(await blocked()).toEqual([expect.objectContaining({ outcome: 'denied', details: expect.objectContaining({ what: 'upload', reason: AGENT_CHOOSER_REASON }) })]);
      // Nothing waits for the owner (an agent has no live view to answer it).
      const owner = agentOwner();
      const attached = await ts.server.browser.sessions.attach(session, owner, 'control');
      const notices: string[] = [];
      attached.transfers!.subscribe((notice) => notices.push(notice.type))();
      expect(notices).not.toContain('file_chooser');

      // The next result says so in one sentence of ours, after the page's fenced content; once.
      const next = await call('snapshot', { session });
      expect(next.isError, next.text).toBe(false);
      expect(next.text.endsWith(`\n${FILE_CHOOSER_DISMISSED_MEANWHILE}`)).toBe(true);
      expect(next.text.split(FILE_CHOOSER_DISMISSED_MEANWHILE)[0]).toContain('untrusted-page-content');
      expect((await call('snapshot', { session })).text).not.toContain(FILE_CHOOSER_DISMISSED_MEANWHILE);
      // A second chooser later in the session is dismissed and told again, recorded once per session.
      portal.hold();
      const again = await call('click', { session, ref: REF(/button "Attach later"/, page) });
      expect(again.isError, again.text).toBe(false);
      portal.release();
      await eventually(() => (portal.released() >= 2 ? true : undefined), 30_000, () => 'the second release answered');
      const told = await eventually(
        async () => {
          const result = await call('snapshot', { session });
          return result.text.includes(FILE_CHOOSER_DISMISSED_MEANWHILE) ? result : undefined;
        },
        30_000,
        () => 'the second dismissal told',
      );
      expect(told.isError).toBe(false);
      expect(await blocked()).toHaveLength(1);
      await call('close_session', { session });
      const recording = (await ts.services.recordings.list({ userId: agent.userId })).items.find((r) => r.sessionId === session)!;
      const summaries = (await ts.services.recordings.events(recording.id)).flatMap((e) => ((e as { type?: string }).type === 'tool' ? [(e as { summary: string }).summary] : []));
      expect(summaries.filter((text) => text.endsWith('(file chooser dismissed outside an action)'))).toHaveLength(2);

      // An operator's session (same page, same click through the tools' controls): the late chooser waits for the owner's view.
      const operatorAccount = await ts.services.users.create({ username: 'later-operator', kind: 'person', roles: ['operator'], source: 'local' }, ADMIN);
      await ts.services.grants.create({ subjectKind: 'user', subjectId: operatorAccount.id, assetId: 'agent-later', actions: ['connect'] }, ADMIN);
      const operator: Principal = { kind: 'user', id: operatorAccount.id, name: 'later-operator', roles: ['operator'], groups: [], via: 'session', mfa: true };
      const operatorSession = await ts.server.browser.sessions.start(operator, 'agent-later');
      const view = await ts.server.browser.sessions.attach(operatorSession.id, operator, 'control');
      const seen: string[] = [];
      const stop = view.transfers!.subscribe((notice) => seen.push(notice.type));
      try {
        portal.hold();
        const handle = await ts.server.browser.sessions.agent(operatorSession.id, operator);
        const snap = await handle.controls.snapshot({ redact: handle.redact });
        const result = await handle.controls.click(REF(/button "Attach later"/, snap.text), { redact: handle.redact });
        expect(result.fileChooserDismissed).toBeUndefined();
        portal.release();
        await eventually(() => (seen.includes('file_chooser') ? true : undefined), 30_000, () => `the chooser offered to the owner's view (got ${seen.join(', ')})`);
        expect(handle.takeChoosersDismissed()).toBe(0);
        expect((await auditRows(ts, 'browser_session.blocked')).filter((r) => r.target_id === operatorSession.id)).toEqual([]);
      } finally {
        stop();
        await ts.server.browser.sessions.end(operatorSession.id, operator).catch(() => undefined);
      }

      const everywhere = [transcript.join('\n'), await auditText(ts), ts.logs.text(), JSON.stringify(summaries)].join('\n');
      for (const canary of [CANARY_PASSWORD, encodeURIComponent(CANARY_PASSWORD)]) expect(everywhere).not.toContain(canary);
    } finally {
      await portal.stop();
    }
  }, 240_000);

  it('does the same task through the MCP Inspector in CLI mode (one process per call; the server is stateless)', async () => {
    const inspector = async (method: string, tool?: string, args: Record<string, string | boolean> = {}) => {
      const argv = ['--cli', `${ts.url}/mcp`, '--transport', 'http', '--header', `Authorization: Bearer ${agent.token}`, '--method', method];
      if (tool) argv.push('--tool-name', tool);
      // key=value, the value read as JSON by the Inspector: strings are quoted so that "45.50" stays text.
      const pairs = Object.entries(args).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
      if (pairs.length > 0) argv.push('--tool-arg', ...pairs);
      const { stdout } = await run(INSPECTOR, argv, { cwd: INSPECTOR_CWD, timeout: 90_000 });
      transcript.push(stdout);
      return JSON.parse(stdout) as { tools?: Array<{ name: string }>; content?: Array<{ type: string; text?: string }>; isError?: boolean };
    };
    const said = (r: { content?: Array<{ type: string; text?: string }> }) => textOf(r);
    expect((await inspector('tools/list')).tools).toHaveLength(15);
    const session = SESSION_ID.exec(said(await inspector('tools/call', 'open_session', { asset: 'demo-bank' })))![1]!;
    const accounts = said(await inspector('tools/call', 'snapshot', { session }));
    expect(accounts).toContain('heading "Accounts"');
    const balance = /cell "(€[\d,.]+)"/.exec(accounts)![1]!;
    expect(balance).toMatch(/^€[\d,]+\.\d\d$/);
    await inspector('tools/call', 'click', { session, ref: REF(/link "Make a transfer"/, accounts) });
    const form = said(await inspector('tools/call', 'snapshot', { session }));
    await inspector('tools/call', 'type', { session, ref: REF(/textbox "To \(IBAN\)"/, form), text: 'DE89370400440532013000' });
    await inspector('tools/call', 'type', { session, ref: REF(/textbox "Amount \(EUR\)"/, form), text: '10.00', submit: true });
    const done = said(await inspector('tools/call', 'wait_for', { session, text: 'Sent €10.00' }));
    expect(done).toMatch(/^The condition was met/);
    expect(said(await inspector('tools/call', 'close_session', { session }))).toBe(`Session ${session} ended.`);
    const calls = (await auditRows(ts, 'mcp.tool_called')).filter((r) => r.target_id === session);
    expect(calls.map((r) => r.details.tool)).toEqual(['open_session', 'snapshot', 'click', 'snapshot', 'type', 'type', 'wait_for', 'close_session']);
    expect(transcript.join('\n')).not.toContain(CANARY_PASSWORD);
  }, 300_000);
});

/**
 * A portal whose documents page opens its file chooser from a timer-like callback: the click on
 * "Attach later" asks for an image (/release) and clicks the file input once it is answered; the
 * test answers it (release) after the click's result came back, so the chooser opens outside the
 * action (within the click's user activation, which Chromium requires for a chooser).
 */
async function startLaterChooserPortal(): Promise<{ url: string; release(): void; hold(): void; released(): number; stop(): Promise<void> }> {
  let open = false;
  let answered = 0;
  const waiting: ServerResponse[] = [];
  const answer = (res: ServerResponse) => {
    answered += 1;
    res.writeHead(204, { 'cache-control': 'no-store' }).end();
  };
  const html = (res: ServerResponse, body: string) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><html lang="en"><head><title>Later chooser</title></head><body>${body}</body></html>`);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    req.resume();
    if (path === '/login' && req.method === 'POST') res.writeHead(303, { location: '/documents' }).end();
    else if (path === '/login') {
      html(res, '<form method="post" action="/login"><label>Username <input id="username" name="username"></label><label>Password <input id="password" name="password" type="password"></label><button id="sign-in">Sign in</button></form>');
    } else if (path === '/documents') {
      html(
        res,
        '<h1>Documents</h1><label>Document <input type="file" id="doc"></label><button id="later" type="button">Attach later</button>' +
          "<script>document.getElementById('later').onclick = () => { const img = new Image(); img.onload = img.onerror = () => document.getElementById('doc').click(); img.src = '/release?' + Math.random(); };</script>",
      );
    } else if (path === '/release') {
      if (open) answer(res);
      else waiting.push(res);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    release() {
      open = true;
      for (const res of waiting.splice(0)) answer(res);
    },
    hold() {
      open = false;
    },
    released: () => answered,
    async stop() {
      for (const res of waiting.splice(0)) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `probe` (no timing is asserted: the limit only turns a hang into a message). */
async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, limitMs: number, what: () => string): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
