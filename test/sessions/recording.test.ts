import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAUNCH_ARGS, findChromium, type BrowserPool, type BrowserSession } from '../../src/browser/index.js';
import { AppError } from '../../src/core/index.js';
import { createDemoPortal, type DemoPortal } from '../../src/demo-portal/index.js';
import { createFileRecordingStorage, type RecordingEvent, type RecordingStorage } from '../../src/recording/index.js';
import { useTestDatabase } from '../support/databases.js';
import { buildStack, CANARY_PASSWORD, CANARY_USERNAME, CLI, eventually, markedPool, type SessionStack } from './support.js';

// Sessions are recorded (issue 6) on a real Chromium and the demo portal: the event track and the
// frames of a whole session, no secret in any byte, a crashed browser's recording sealed incomplete
// and verifiable, and an asset that requires recording failing closed when storage cannot be written.

const CANARY_SEED = 'KRUGKIDROVUWG2ZAMJZG653OEBTG66BA';
const TRANSFER_IBAN = 'NL91ABNA0417164300';

let pool: BrowserPool;
let browserPids: () => number[];
let portal: DemoPortal;
let portalUrl: string;
/** Centres of the demo portal's controls at 1280x720, measured once in a separate browser. */
let at: Record<'transfer' | 'to' | 'amount' | 'logout', { x: number; y: number }>;

beforeAll(async () => {
  const marked = markedPool();
  pool = marked.pool;
  browserPids = () => marked.browserPids();
  portal = createDemoPortal({ username: CANARY_USERNAME, password: CANARY_PASSWORD, totpSeed: CANARY_SEED });
  portalUrl = await portal.start(0, '127.0.0.1');
  at = await measureControls(portalUrl);
});
afterAll(async () => {
  await pool?.close();
  await portal?.stop();
});

async function measureControls(url: string): Promise<typeof at> {
  const browser = await chromium.launch({ executablePath: findChromium(undefined), args: [...DEFAULT_LAUNCH_ARGS] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.goto(`${url}/login`);
    await page.fill('#username', CANARY_USERNAME);
    await page.fill('#password', CANARY_PASSWORD);
    await page.click('#sign-in');
    await page.waitForSelector('#balance');
    const centre = async (selector: string) => {
      const box = (await page.locator(selector).boundingBox())!;
      return { x: Math.round(box.x + box.width / 2), y: Math.round(box.y + box.height / 2) };
    };
    const transfer = await centre('#transfer-link');
    await page.goto(`${url}/transfer`);
    return { transfer, to: await centre('#to'), amount: await centre('#amount'), logout: await centre('#logout') };
  } finally {
    await browser.close();
  }
}

async function click(browser: BrowserSession, point: { x: number; y: number }) {
  await browser.input({ type: 'mouse', action: 'move', ...point });
  await browser.input({ type: 'mouse', action: 'down', ...point, button: 'left' });
  await browser.input({ type: 'mouse', action: 'up', ...point, button: 'left' });
}

async function type(browser: BrowserSession, text: string) {
  for (const key of text) {
    await browser.input({ type: 'key', action: 'down', key });
    await browser.input({ type: 'key', action: 'up', key });
  }
}

const activeUrl = (browser: BrowserSession) => browser.tabs().find((tab) => tab.active)?.url ?? '';

/** Every byte the recording left in storage: chunks and manifest. */
function recordingBytes(dataDir: string, id: string): Buffer {
  const dir = join(dataDir, 'recordings', id);
  return Buffer.concat(readdirSync(dir).map((name) => readFileSync(join(dir, name))));
}

/** A file storage that fails on purpose (a full disk): at `create`, or at every write once `failWrites` is set. */
function failingStorage(dir: string, mode: 'create' | 'writes') {
  const inner = createFileRecordingStorage(dir);
  const state = { failWrites: mode === 'create' };
  const full = () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
  const storage: RecordingStorage = {
    ...inner,
    create: (id) => (mode === 'create' ? full() : inner.create(id)),
    writeChunk: (id, seq, bytes) => (state.failWrites ? full() : inner.writeChunk(id, seq, bytes)),
    writeManifest: (id, bytes) => (state.failWrites ? full() : inner.writeManifest(id, bytes)),
  };
  return { storage, state };
}

/** Asserts that `expected` occur in `events` in this order (other events may come between them). */
function expectInOrder(events: RecordingEvent[], expected: Array<Record<string, unknown>>) {
  let from = 0;
  for (const wanted of expected) {
    const index = events.findIndex((event, i) => i >= from && Object.entries(wanted).every(([k, v]) => (v instanceof RegExp ? v.test(String((event as Record<string, unknown>)[k])) : (event as Record<string, unknown>)[k] === v)));
    if (index === -1) throw new Error(`no ${JSON.stringify(wanted, (_k, v: unknown) => (v instanceof RegExp ? String(v) : v))} after event ${from} in ${JSON.stringify(events.map(({ t: _t, ...e }) => e), null, 1)}`);
    from = index + 1;
  }
}

describe('recorded browser sessions', () => {
  const fresh = useTestDatabase();

  async function stack(options: Parameters<typeof buildStack>[3] = {}): Promise<SessionStack> {
    const built = await buildStack(fresh, pool, portalUrl, { asset: { url: `${portalUrl}/login-totp`, successCheck: { selector: '#balance' }, ...options.asset }, ...options });
    fresh.defer(() => built.close());
    await built.vault.set(
      { entryId: 'bank-login', values: new Map([['username', Buffer.from(CANARY_USERNAME)], ['password', Buffer.from(CANARY_PASSWORD)], ['totpSeed', Buffer.from(CANARY_SEED)]]) },
      CLI,
    );
    return built;
  }

  it('records a demo-portal session: states, navigations, clicks and masked keys in order, rate-capped frames, sealed and verified, no secret in any byte', async () => {
    // A cap shorter than the default (750 ms), so this short scripted visit has several frames to check the cap on.
    const s = await stack({ recordingFrameIntervalMs: 500 });
    const alice = await s.operator('alice');
    const session = await s.sessions.start(alice, 'bank');
    const attached = await s.sessions.attach(session.id, alice, 'control');
    const detach = attached.onEnd(() => undefined);
    const browser = attached.browser;

    await click(browser, at.transfer);
    await eventually(async () => activeUrl(browser).endsWith('/transfer'), 10_000, 'the transfer page');
    await click(browser, at.to);
    await type(browser, TRANSFER_IBAN);
    await click(browser, at.amount);
    await type(browser, '12.50');
    await click(browser, at.logout);
    // The tab's title is set as its navigation is reported.
    await eventually(async () => browser.tabs().some((tab) => tab.title.startsWith('Signed out')), 10_000, 'the signed-out page');
    // On a quiet machine the visit above takes less than one frame interval: the newest screen
    // waits for the interval to pass before it is recorded (a frame pending at the end is dropped).
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    detach();
    await s.sessions.end(session.id, alice);

    const { items } = await s.recordings.list({});
    expect(items).toHaveLength(1);
    const recording = items[0]!;
    expect(recording).toMatchObject({ sessionId: session.id, assetId: 'bank', userId: alice.id, state: 'sealed', complete: true, incompleteReason: null, retentionDays: 365 });
    const events = await s.recordings.events(recording.id);
    expectInOrder(events, [
      { type: 'state', state: 'starting' },
      { type: 'state', state: 'logging_in' },
      { type: 'state', state: 'active' },
      { type: 'viewer', action: 'attached', mode: 'control', userId: alice.id },
      { type: 'click', target: 'a#transfer-link "Make a transfer"', x: at.transfer.x, y: at.transfer.y },
      { type: 'navigated', url: /\/transfer$/, title: /^Transfer/ },
      { type: 'click', target: 'input[name=to] "To (IBAN)"' },
      { type: 'keys', target: 'input[name=to] "To (IBAN)"', field: 'text', count: TRANSFER_IBAN.length },
      { type: 'click', target: 'input[name=amount] "Amount (EUR)"' },
      { type: 'keys', target: 'input[name=amount] "Amount (EUR)"', field: 'text', count: 5 },
      { type: 'click', target: /^button#logout "Sign out"$/ },
      { type: 'navigated', url: /\/logout$/, title: /^Signed out/ },
      { type: 'viewer', action: 'detached', userId: alice.id },
      { type: 'state', state: 'ended', reason: 'user' },
    ]);
    // Masked by default: counts, never the text.
    expect(events.filter((e) => e.type === 'keys').every((e) => !('text' in e))).toBe(true);
    // Nothing typed by the login (the browser ignores input while it runs) and no secret anywhere.
    const text = JSON.stringify(events);
    expect(text).not.toContain(TRANSFER_IBAN);

    const frames = [];
    for await (const frame of s.recordings.frames(recording.id, 0)) frames.push(frame);
    expect(frames.length).toBeGreaterThanOrEqual(2);
    for (const [i, frame] of frames.entries()) {
      expect(frame.jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
      expect(frame).toMatchObject({ width: 1280, height: 720 });
      // The recording's own rate cap: a frame is acked 500 ms (as set above) after it arrived.
      if (i > 0) expect(frame.t - frames[i - 1]!.t).toBeGreaterThanOrEqual(450);
    }

    expect(await s.recordings.verify(recording.id)).toMatchObject({ ok: true, complete: true, problems: [] });
    const bytes = recordingBytes(fresh.db.dataDir, recording.id);
    for (const canary of [CANARY_PASSWORD, CANARY_SEED]) {
      expect(bytes.includes(Buffer.from(canary))).toBe(false);
      expect(text).not.toContain(canary);
    }
    const audited = await s.auditRows({ target: recording.id });
    expect(audited.map((r) => r.action)).toEqual(['recording.started', 'recording.sealed']);
    expect(audited[1]!.details).toMatchObject({ complete: true });
    expect(Object.values(audited[1]!.details)).toContain(session.id);
    expect(await s.auditText()).not.toContain(CANARY_SEED);
  });

  it('keeps typed text only where the asset allows plain text', async () => {
    const s = await stack({ asset: { policy: { recordKeystrokes: 'plain', recordingRetentionDays: 30 } } });
    const alice = await s.operator('alice');
    const session = await s.sessions.start(alice, 'bank');
    const { browser } = await s.sessions.attach(session.id, alice, 'control');
    await click(browser, at.transfer);
    await eventually(async () => activeUrl(browser).endsWith('/transfer'), 10_000, 'the transfer page');
    await click(browser, at.to);
    await type(browser, TRANSFER_IBAN);
    await s.sessions.end(session.id, alice);
    const [recording] = (await s.recordings.list({})).items;
    expect(recording).toMatchObject({ retentionDays: 30, complete: true });
    const keys = (await s.recordings.events(recording!.id)).filter((e) => e.type === 'keys');
    expect(keys).toEqual([expect.objectContaining({ target: 'input[name=to] "To (IBAN)"', field: 'text', count: TRANSFER_IBAN.length, text: TRANSFER_IBAN })]);
  });

  it('seals complete on clean ends: a failed login and a shutdown', async () => {
    const s = await stack();
    const alice = await s.operator('alice');
    await s.vault.set({ entryId: 'bank-login', values: new Map([['username', Buffer.from(CANARY_USERNAME)], ['password', Buffer.from('wrong-password')], ['totpSeed', Buffer.from(CANARY_SEED)]]) }, CLI);
    await expect(s.sessions.start(alice, 'bank')).rejects.toMatchObject({ code: 'login_failed' });
    await s.vault.set(
      { entryId: 'bank-login', values: new Map([['username', Buffer.from(CANARY_USERNAME)], ['password', Buffer.from(CANARY_PASSWORD)], ['totpSeed', Buffer.from(CANARY_SEED)]]) },
      CLI,
    );
    const live = await s.sessions.start(alice, 'bank');
    await s.sessions.shutdown();
    const { items } = await s.recordings.list({});
    expect(items).toHaveLength(2);
    for (const item of items) {
      expect(item).toMatchObject({ state: 'sealed', complete: true, incompleteReason: null });
      const reason = item.sessionId === live.id ? 'shutdown' : 'login_failed';
      expect((await s.recordings.events(item.id)).at(-1)).toMatchObject({ type: 'state', state: 'ended', reason });
      expect(await s.recordings.verify(item.id)).toMatchObject({ ok: true });
    }
  });

  it('refuses the start (recording_unavailable) when a required recording cannot begin: nothing left open, audited', async () => {
    const { storage } = failingStorage(join(fresh.db.dataDir, 'recordings'), 'create');
    const s = await stack({ recordingStorage: storage });
    const alice = await s.operator('alice');
    const error = await s.sessions.start(alice, 'bank').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'recording_unavailable', status: 503 });
    const [session] = await s.sessions.list(alice);
    expect(session).toMatchObject({ state: 'ended', endReason: 'recording_failed' });
    await eventually(async () => pool.size === 0, 10_000, 'no context left open');
    const failed = await s.auditRows({ action: 'recording.failed' });
    expect(failed).toHaveLength(1);
    expect(failed[0]!.details).toMatchObject({ reason: 'storage_error' });
    expect(Object.values(failed[0]!.details)).toContain(session!.id);
    expect((await s.auditRows({ action: 'browser_session.ended' }))[0]!.details).toMatchObject({ reason: 'recording_failed' });
    // No credential was read: the login never ran.
    expect(await s.auditRows({ action: 'vault.secret.read' })).toEqual([]);
  });

  it('ends a running session (recording_failed) when its required recording cannot be written any more, audited', async () => {
    const { storage, state } = failingStorage(join(fresh.db.dataDir, 'recordings'), 'writes');
    const s = await stack({ recordingStorage: storage });
    const alice = await s.operator('alice');
    const session = await s.sessions.start(alice, 'bank');
    state.failWrites = true;
    // The next chunk flush (every 2 s) fails.
    const ended = await eventually(async () => {
      const [current] = await s.sessions.list(alice);
      return current?.state === 'ended' ? current : undefined;
    }, 15_000, 'the session to end');
    expect(ended).toMatchObject({ id: session.id, endReason: 'recording_failed' });
    expect(pool.size).toBe(0);
    expect(await s.auditRows({ action: 'recording.failed' })).not.toEqual([]);
    expect((await s.auditRows({ action: 'browser_session.ended' }))[0]!.details).toMatchObject({ reason: 'recording_failed', message: 'the session recording could not be written' });
  });

  it('lets a best-effort session go on when its recording cannot begin, and audits recording.failed', async () => {
    const { storage } = failingStorage(join(fresh.db.dataDir, 'recordings'), 'create');
    const s = await stack({ recordingStorage: storage, asset: { policy: { recording: 'best_effort' } } });
    const alice = await s.operator('alice');
    const session = await s.sessions.start(alice, 'bank');
    expect(session.state).toBe('active');
    const failed = await s.auditRows({ action: 'recording.failed' });
    expect(failed).toHaveLength(1);
    expect(failed[0]!.details).toMatchObject({ reason: 'storage_error' });
    expect(Object.values(failed[0]!.details)).toContain(session.id);
    expect(await s.sessions.end(session.id, alice)).toMatchObject({ state: 'ended', endReason: 'user' });
  });

  it('seals the recording incomplete (browser_crashed) when Chromium is killed mid-session, and it verifies', async () => {
    const s = await stack();
    const alice = await s.operator('alice');
    const session = await s.sessions.start(alice, 'bank');
    const [first] = (await s.recordings.list({})).items;
    // At least one chunk on disk before the crash.
    await eventually(async () => ((await s.recordings.get(first!.id))?.chunks ?? 0) > 0, 10_000, 'a flushed chunk');
    for (const pid of browserPids()) process.kill(pid, 'SIGKILL');
    await eventually(async () => (await s.sessions.list(alice))[0]?.state === 'ended', 15_000, 'the session to end');
    expect((await s.sessions.list(alice))[0]).toMatchObject({ id: session.id, endReason: 'browser_crashed' });
    const recording = await eventually(async () => {
      const current = await s.recordings.get(first!.id);
      return current?.state === 'sealed' ? current : undefined;
    }, 10_000, 'the recording to be sealed');
    expect(recording).toMatchObject({ complete: false, incompleteReason: 'browser_crashed' });
    expect(await s.recordings.verify(recording.id)).toMatchObject({ ok: true, complete: false });
    const events = await s.recordings.events(recording.id);
    expectInOrder(events, [{ type: 'state', state: 'active' }, { type: 'state', state: 'ended', reason: 'browser_crashed' }]);
  });
});
