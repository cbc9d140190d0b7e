import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser } from 'playwright-core';
import WebSocket from 'ws';
import { DEFAULT_LAUNCH_ARGS, type BrowserPool } from '../src/browser/index.js';
import { createDemoPortal, DEMO_CREDENTIALS } from '../src/demo-portal/index.js';
import { api, BENCH_ADMIN, signInOperator, type Caller } from './api-caller.js';
import { chromiumMemory } from './chromium-memory.js';
import { fmtInt, fmtMs, fmtRatio, percentile, positiveFromEnv, table } from './harness.js';
import { createScratchDatabase, startProductNode, stopProductNode, type ProductNode } from './product-node.js';

/**
 * `bench/sessions`: governed browser sessions on the demo portal, against
 * bare Playwright scripts on the same Chromium. See docs/benchmarks.md,
 * "Browser sessions".
 */
export interface SessionsBenchConfig {
  /** Logins measured per variant (a), (b), (c). */
  sessions: number;
  /** Sessions held open at once for the memory figure. */
  held: number;
  /** Input-to-visible-change probes. */
  probes: number;
  /** Seconds each bandwidth stream is measured. */
  streamSeconds: number;
  chromiumPath: string;
  /** A PostgreSQL server: the product runs on a fresh database there and on Redis (null: embedded PGlite). */
  databaseUrl: string | null;
  redisUrl: string;
}

export function sessionsConfigFromEnv(env: NodeJS.ProcessEnv): SessionsBenchConfig {
  const num = (name: string, fallback: number): number => positiveFromEnv(env, name, fallback, 'integer');
  return {
    sessions: num('BENCH_SESSIONS_N', 20),
    held: num('BENCH_SESSIONS_HELD', 50),
    probes: num('BENCH_SESSIONS_PROBES', 20),
    streamSeconds: num('BENCH_SESSIONS_STREAM_SECONDS', 5),
    chromiumPath: env.CHROMIUM_PATH || '/usr/bin/chromium',
    databaseUrl: env.BENCH_SESSIONS_DATABASE_URL || null,
    redisUrl: env.BENCH_SESSIONS_REDIS_URL || 'redis://127.0.0.1:6379',
  };
}

const VIEWPORT = { width: 1280, height: 720 } as const;
/** The demo portal's one-form login: the same form for the product's automatic recipe and the bare scripts. */
const LOGIN_PATH = '/login';
const SUCCESS_SELECTOR = '#balance';
const MB = 1024 * 1024;

/**
 * Wall-clock time (epoch ms, sub-millisecond) from the monotonic clock, anchored by calibrateEpoch().
 * Chromium stamps frames with the wall clock; performance.timeOrigin + now() drifts from it by
 * milliseconds over a few minutes of run, enough to make capture-to-arrival negative.
 */
let epochAnchor = { wall: Date.now(), perf: performance.now() };
const epochAt = (perfMs: number) => epochAnchor.wall + (perfMs - epochAnchor.perf);
const epochMs = () => epochAt(performance.now());

/** Anchors epochMs() to Date.now() at the moment its millisecond changes (a fraction of a millisecond off, not up to one). */
function calibrateEpoch(): void {
  const start = Date.now();
  let wall = start;
  while (wall === start) wall = Date.now();
  epochAnchor = { wall, perf: performance.now() };
}
const sha1 = (data: Buffer) => createHash('sha1').update(data).digest('hex');

interface Stats {
  n: number;
  p50: number;
  p95: number;
  max: number;
}

function stats(values: readonly number[]): Stats {
  const sorted = Float64Array.from(values).sort();
  return { n: sorted.length, p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN };
}

// ---------------------------------------------------------------------------------------------
// The product, in this process, and who calls it.

type Product = ProductNode;

function startProduct(chromiumPath: string, databaseEnv: Record<string, string> = {}): Promise<Product> {
  return startProductNode('webasset-bench-sessions-', {
    ...databaseEnv,
    CHROMIUM_PATH: chromiumPath,
    // One operator starts and ends a few hundred sessions within minutes; the per-user API rate limit is not what is measured.
    WEBASSET_API_RATE_LIMIT: '1000000',
  });
}

interface SessionJson {
  id: string;
  state: string;
  createdAt: string;
  activeAt: string | null;
}

/** POST /api/sessions answers once the session is active (or refused / failed). */
async function startSession(caller: Caller, assetId: string): Promise<{ ms: number; session: SessionJson | null; error: string | null }> {
  const t0 = performance.now();
  const res = await api(caller, 'POST', '/api/sessions', { assetId });
  const ms = performance.now() - t0;
  if (res.status !== 201) return { ms, session: null, error: `${res.status} ${res.text.slice(0, 300)}` };
  return { ms, session: res.json as SessionJson, error: null };
}

async function endSession(caller: Caller, id: string): Promise<void> {
  const res = await api(caller, 'DELETE', `/api/sessions/${encodeURIComponent(id)}`);
  if (res.status !== 200) throw new Error(`ending session ${id} answered ${res.status}: ${res.text.slice(0, 200)}`);
}

interface Assets {
  /** The demo portal's one-form login, automatic recipe (what the quickstart does, on /login instead of /login-totp). */
  bank: string;
  /** The same form with an explicit recipe (fill, fill, click), as the bare scripts do it. */
  recipe: string;
  /** Logs in, opens the transfer page and clicks its IBAN field: an idle page with a focused text field for input probes. */
  live: string;
  /** The bench's own animated page, no login. */
  busy: string;
}

async function createAssets(product: Product, portalUrl: string, busyUrl: string, caller: Caller, held: number): Promise<Assets> {
  const { vault, assets, grants } = product.services;
  // One vault entry per asset: the per-credential limit counts across assets. Fresh buffers for each: the vault wipes what it was given.
  for (const entryId of ['bench-bank-login', 'bench-recipe-login', 'bench-live-login']) {
    const values = new Map([
      ['username', Buffer.from(DEMO_CREDENTIALS.username)],
      ['password', Buffer.from(DEMO_CREDENTIALS.password)],
    ]);
    await vault.set({ entryId, values }, product.services.systemActor);
  }
  const common = {
    allowedHosts: ['127.0.0.1'],
    allowInsecureHttp: true,
    policy: { idleTimeoutMinutes: 60, maxSessions: null, maxSessionsPerCredential: Math.min(1000, held + 5) },
  };
  await assets.create(
    { id: 'bench-bank', name: 'Demo Bank (bench)', url: portalUrl, startUrl: `${portalUrl}${LOGIN_PATH}`, credential: 'bench-bank-login', loginRecipe: null, successCheck: { selector: SUCCESS_SELECTOR }, ...common },
    BENCH_ADMIN,
  );
  await assets.create(
    {
      id: 'bench-recipe',
      name: 'Demo Bank, explicit recipe (bench)',
      url: portalUrl,
      startUrl: `${portalUrl}${LOGIN_PATH}`,
      credential: 'bench-recipe-login',
      loginRecipe: { steps: [{ fill: '#username', value: '{{username}}' }, { fill: '#password', value: '{{password}}' }, { click: '#sign-in' }] },
      successCheck: { selector: SUCCESS_SELECTOR },
      ...common,
    },
    BENCH_ADMIN,
  );
  await assets.create(
    {
      id: 'bench-live',
      name: 'Demo Bank transfer (bench)',
      url: portalUrl,
      startUrl: `${portalUrl}${LOGIN_PATH}`,
      credential: 'bench-live-login',
      loginRecipe: {
        steps: [
          { fill: '#username', value: '{{username}}' },
          { fill: '#password', value: '{{password}}' },
          { click: '#sign-in' },
          { waitFor: { selector: SUCCESS_SELECTOR } },
          { goto: '/transfer' },
          { click: '#to' },
        ],
      },
      successCheck: { selector: '#to' },
      ...common,
    },
    BENCH_ADMIN,
  );
  await assets.create({ id: 'bench-busy', name: 'Animated page (bench)', url: busyUrl, credential: null, ...common }, BENCH_ADMIN);
  for (const assetId of ['bench-bank', 'bench-recipe', 'bench-live', 'bench-busy']) {
    await grants.create({ subjectKind: 'user', subjectId: caller.userId, assetId, actions: ['connect'] }, BENCH_ADMIN);
  }
  return { bank: 'bench-bank', recipe: 'bench-recipe', live: 'bench-live', busy: 'bench-busy' };
}

/** A page that never stops changing: a sliding gradient block and a clock ticking every animation frame. */
const BUSY_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>Busy</title><style>
body{margin:0;font:16px system-ui,sans-serif;background:#f4f6f8}
@keyframes slide{from{transform:translateX(0)}to{transform:translateX(900px)}}
.box{width:240px;height:240px;margin:40px;background:linear-gradient(45deg,#c33,#fc3,#3c6,#36c);animation:slide 3s linear infinite alternate}
#clock{font:48px monospace;margin:0 40px}</style></head>
<body><h1 style="margin:40px">Dashboard</h1><div class="box"></div><p id="clock"></p>
<script>const c=document.getElementById('clock');(function tick(){c.textContent=new Date().toISOString();requestAnimationFrame(tick);})();</script>
</body></html>`;

async function startBusyPage(): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(BUSY_PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

// ---------------------------------------------------------------------------------------------
// (a), (b), (c): start to logged in.

const LAUNCH = { headless: true, args: [...DEFAULT_LAUNCH_ARGS] };

interface LoginTimes {
  product: number[];
  /** activeAt - createdAt of the session record (ms resolution). */
  productRecord: number[];
  /** Parts of (a): the pool's open() (context, navigation lock, policy), the login runner, and the rest (HTTP, authorization, limits, audit, vault, database). */
  open: number[];
  login: number[];
  rest: number[];
  /** (a) on the asset with the explicit recipe. */
  recipe: number[];
  recipeOpen: number[];
  recipeLogin: number[];
  /** (a) on a second node that keeps no spare context (WEBASSET_BROWSER_SPARE_CONTEXTS=0), and its pool.open() and login parts. */
  plain: number[];
  plainOpen: number[];
  plainLogin: number[];
  cold: number[];
  warm: number[];
  errors: string[];
}

/** The second node: the same fixtures, no spare contexts. */
interface PlainSide {
  caller: Caller;
  assetId: string;
}

/**
 * Between two measured logins: until the product's pool has its spare context again, and the
 * machine's CPUs have been at least 90% idle for 100 ms (at most 3 s in all). Ending a session goes
 * on after its answer (the context and its renderer close, the recording is sealed), and so does
 * closing a bare script's browser; on 2 cores that work would otherwise slow whichever variant
 * comes next.
 */
async function settle(pool: BrowserPool): Promise<void> {
  const deadline = performance.now() + 3000;
  while (pool.spares < 1 && performance.now() < deadline) await sleep(10);
  while (performance.now() < deadline) {
    const before = cpuTimes();
    await sleep(100);
    const after = cpuTimes();
    if ((after.idle - before.idle) / Math.max(1, after.total - before.total) >= 0.9) return;
  }
}

function cpuTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const cpu of cpus()) {
    idle += cpu.times.idle;
    total += cpu.times.idle + cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.irq;
  }
  return { idle, total };
}

async function measureLogins(config: SessionsBenchConfig, caller: Caller, assets: Assets, plainSide: PlainSide, portalUrl: string, taps: Taps, pool: BrowserPool): Promise<LoginTimes> {
  const assetId = assets.bank;
  const times: LoginTimes = { product: [], productRecord: [], open: [], login: [], rest: [], recipe: [], recipeOpen: [], recipeLogin: [], plain: [], plainOpen: [], plainLogin: [], cold: [], warm: [], errors: [] };
  const warmBrowser = await chromium.launch({ ...LAUNCH, executablePath: config.chromiumPath });
  try {
    // Warm-up, not measured: each node launches its Chromium at its first session; the warm script's browser is launched above.
    for (const [who, id] of [[caller, assetId], [plainSide.caller, plainSide.assetId]] as const) {
      const first = await startSession(who, id);
      if (first.session) await endSession(who, first.session.id);
      else times.errors.push(`product warm-up: ${first.error}`);
    }
    await timedBare(warmBrowser, portalUrl, () => undefined, performance.now());

    const variants: Array<() => Promise<void>> = [
      async () => {
        const r = await startSession(caller, assetId);
        if (!r.session) return void times.errors.push(`product: ${r.error}`);
        times.product.push(r.ms);
        if (r.session.activeAt) times.productRecord.push(Date.parse(r.session.activeAt) - Date.parse(r.session.createdAt));
        const phase = taps.phases.get(r.session.id);
        if (phase?.loginMs !== undefined) {
          times.open.push(phase.openMs);
          times.login.push(phase.loginMs);
          times.rest.push(r.ms - phase.openMs - phase.loginMs);
        }
        await endSession(caller, r.session.id);
      },
      async () => {
        const r = await startSession(caller, assets.recipe);
        if (!r.session) return void times.errors.push(`product, explicit recipe: ${r.error}`);
        times.recipe.push(r.ms);
        const phase = taps.phases.get(r.session.id);
        if (phase?.loginMs !== undefined) {
          times.recipeOpen.push(phase.openMs);
          times.recipeLogin.push(phase.loginMs);
        }
        await endSession(caller, r.session.id);
      },
      async () => {
        const r = await startSession(plainSide.caller, plainSide.assetId);
        if (!r.session) return void times.errors.push(`product without spare contexts: ${r.error}`);
        times.plain.push(r.ms);
        const phase = taps.phases.get(r.session.id);
        if (phase?.loginMs !== undefined) {
          times.plainOpen.push(phase.openMs);
          times.plainLogin.push(phase.loginMs);
        }
        await endSession(plainSide.caller, r.session.id);
      },
      async () => {
        const t0 = performance.now();
        try {
          await timedBare(warmBrowser, portalUrl, (ms) => times.warm.push(ms), t0);
        } catch (error) {
          times.errors.push(`warm bare script: ${(error as Error).message}`);
        }
      },
      async () => {
        const t0 = performance.now();
        let browser: Browser | undefined;
        try {
          browser = await chromium.launch({ ...LAUNCH, executablePath: config.chromiumPath });
          await timedBare(browser, portalUrl, (ms) => times.cold.push(ms), t0);
        } catch (error) {
          times.errors.push(`cold bare script: ${(error as Error).message}`);
        } finally {
          await browser?.close().catch(() => undefined);
        }
      },
    ];
    // Interleaved, in a rotating order, so that the load of the machine (shared with other work) drifts over all three alike.
    for (let i = 0; i < config.sessions; i++) {
      for (let k = 0; k < variants.length; k++) {
        await settle(pool);
        await variants[(i + k) % variants.length]!();
      }
    }
  } finally {
    await warmBrowser.close().catch(() => undefined);
  }
  return times;
}

/** Runs the bare login on `browser` and reports the time from `t0` to the passed success check (context closing excluded). */
async function timedBare(browser: Browser, portalUrl: string, record: (ms: number) => void, t0: number): Promise<void> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  try {
    const page = await context.newPage();
    await page.goto(`${portalUrl}${LOGIN_PATH}`, { waitUntil: 'domcontentloaded' });
    await page.fill('#username', DEMO_CREDENTIALS.username);
    await page.fill('#password', DEMO_CREDENTIALS.password);
    await page.click('#sign-in');
    await page.waitForSelector(SUCCESS_SELECTOR, { timeout: 30_000 });
    record(performance.now() - t0);
  } finally {
    await context.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// (d) live view.

interface Tapped {
  /** CDP frame timestamp (Page.screencastFrame metadata.timestamp), epoch ms. */
  captureMs: number;
  /** When the browser module handed the frame to the live view, epoch ms. */
  handedMs: number;
}

/** Where the product's start time went, per session id: opening the context, and the login runner. */
interface PhaseTimes {
  openMs: number;
  loginMs?: number;
}

interface Taps {
  frames: Map<string, Tapped>;
  phases: Map<string, PhaseTimes>;
}

/**
 * Measurement taps, not product code: wraps the pool's open() so that (1) every screencast
 * frame's CDP timestamp is remembered by the hash of its JPEG bytes (the live view sends frames as
 * bare JPEG, so the client looks its frames up here), and (2) the time of open() and of login()
 * is kept per session. The product's objects are otherwise untouched.
 */
function tapPool(pool: BrowserPool, taps: Taps = { frames: new Map(), phases: new Map() }): Taps {
  const open = pool.open.bind(pool);
  pool.open = async (spec) => {
    const t0 = performance.now();
    const session = await open(spec);
    const phase: PhaseTimes = { openMs: performance.now() - t0 };
    if (taps.phases.size > 10_000) taps.phases.clear();
    taps.phases.set(spec.sessionId, phase);
    const login = session.login.bind(session);
    session.login = async (input) => {
      const t1 = performance.now();
      try {
        return await login(input);
      } finally {
        phase.loginMs = performance.now() - t1;
      }
    };
    const start = session.startScreencast.bind(session);
    session.startScreencast = (options, onFrame) =>
      start(options, (frame) => {
        if (taps.frames.size > 50_000) taps.frames.clear();
        // The recording can take the live view's very frame later (at its own pace): that frame's first
        // hand-over counts. A later frame with the same picture (a caret blinking back) is a new frame.
        const hash = sha1(frame.data);
        if (taps.frames.get(hash)?.captureMs !== frame.timestampMs) taps.frames.set(hash, { captureMs: frame.timestampMs, handedMs: epochMs() });
        onFrame(frame);
      });
    return session;
  };
  return taps;
}

interface Arrival {
  hash: string;
  bytes: number;
  atMs: number;
  atEpochMs: number;
  /** The tap's record, looked up on arrival (the same caret state recurs, so a later lookup could find a newer frame). */
  tapped: Tapped | undefined;
}

/** A viewer on loopback: acks each frame as it arrives (as the minimal viewer does once painted) and records it. */
class Viewer {
  readonly frames: Arrival[] = [];
  readonly texts: Array<{ type: string; [key: string]: unknown }> = [];
  private waiters: Array<() => void> = [];
  private readonly ws: WebSocket;
  readonly opened: Promise<void>;

  constructor(caller: Caller, sessionId: string, taps: ReadonlyMap<string, Tapped>) {
    this.ws = new WebSocket(`${caller.origin.replace(/^http/, 'ws')}/api/sessions/${encodeURIComponent(sessionId)}/live`, { headers: { cookie: caller.cookie, origin: caller.origin } });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) {
        const atMs = performance.now();
        const hash = sha1(data);
        this.frames.push({ hash, bytes: data.length, atMs, atEpochMs: epochAt(atMs), tapped: taps.get(hash) });
        this.ws.send('{"type":"ack"}');
      } else {
        this.texts.push(JSON.parse(data.toString('utf8')) as { type: string });
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.ws.on('close', () => this.waiters.splice(0).forEach((wake) => wake()));
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Resolves true once `check` holds, false after `timeoutMs` or when the socket closed. */
  async until(check: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!check()) {
      const left = deadline - performance.now();
      if (left <= 0 || this.ws.readyState === WebSocket.CLOSED) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  close(): void {
    this.ws.close();
  }
}

interface Stream {
  label: string;
  seconds: number;
  frames: number;
  bytes: number;
  firstFrameBytes: number;
}

/** Bytes and frames per second arriving at one viewer, from its first frame on. */
async function measureStream(label: string, viewer: Viewer, seconds: number): Promise<Stream | string> {
  if (!(await viewer.until(() => viewer.frames.length > 0, 15_000))) return `${label}: no frame within 15 s (${JSON.stringify(viewer.texts)})`;
  const from = viewer.frames.length;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const got = viewer.frames.slice(from);
  return { label, seconds: (performance.now() - t0) / 1000, frames: got.length, bytes: got.reduce((s, f) => s + f.bytes, 0), firstFrameBytes: viewer.frames[0]!.bytes };
}

/**
 * Input-to-visible-change: a key down through the live-view socket (alternately "a" and Backspace
 * into the focused IBAN field), timed until a frame arrives that shows something not shown while
 * the page was still. The page is idle but for the caret blinking, so the "still" frames are the
 * few caret states seen during a settle time longer than one blink period; frames are compared
 * by the hash of their bytes (the same pixels give the same JPEG), nothing is decoded.
 */
async function probeInput(viewer: Viewer, probes: number): Promise<{ latencies: number[]; timeouts: number }> {
  const latencies: number[] = [];
  let timeouts = 0;
  let stillFrom = viewer.frames.length;
  for (let i = 0; i < probes; i++) {
    await sleep(1100);
    const still = new Set(viewer.frames.slice(stillFrom).map((f) => f.hash));
    if (still.size === 0 && viewer.frames.length > 0) still.add(viewer.frames.at(-1)!.hash);
    const key = i % 2 === 0 ? { key: 'a', code: 'KeyA' } : { key: 'Backspace', code: 'Backspace' };
    const seen = viewer.frames.length;
    const t0 = performance.now();
    viewer.send({ type: 'key', action: 'down', ...key });
    viewer.send({ type: 'key', action: 'up', ...key });
    let changed = -1;
    const ok = await viewer.until(() => {
      for (let k = seen; k < viewer.frames.length; k++) {
        if (!still.has(viewer.frames[k]!.hash)) {
          changed = k;
          return true;
        }
      }
      return false;
    }, 5_000);
    if (!ok) {
      timeouts++;
      stillFrom = viewer.frames.length;
      continue;
    }
    latencies.push(viewer.frames[changed]!.atMs - t0);
    stillFrom = changed;
  }
  return { latencies, timeouts };
}

interface LiveReport {
  streams: Stream[];
  captureToArrival: Array<{ label: string; total: number[]; toProduct: number[]; matched: number; frames: number }>;
  input: { latencies: number[]; timeouts: number };
  problems: string[];
}

async function measureLiveView(config: SessionsBenchConfig, caller: Caller, assets: Assets, taps: Taps): Promise<LiveReport> {
  const report: LiveReport = { streams: [], captureToArrival: [], input: { latencies: [], timeouts: 0 }, problems: [] };
  calibrateEpoch();
  const opened: string[] = [];
  const viewers: Viewer[] = [];
  const match = (label: string, viewer: Viewer) => {
    const total: number[] = [];
    const toProduct: number[] = [];
    for (const f of viewer.frames) {
      const tap = f.tapped;
      if (!tap || tap.captureMs <= 0) continue;
      total.push(f.atEpochMs - tap.captureMs);
      toProduct.push(tap.handedMs - tap.captureMs);
    }
    report.captureToArrival.push({ label, total, toProduct, matched: total.length, frames: viewer.frames.length });
  };
  try {
    const open = async (assetId: string): Promise<Viewer | null> => {
      const r = await startSession(caller, assetId);
      if (!r.session) {
        report.problems.push(`live view: session on ${assetId} did not start: ${r.error}`);
        return null;
      }
      opened.push(r.session.id);
      const viewer = new Viewer(caller, r.session.id, taps.frames);
      viewers.push(viewer);
      await viewer.opened;
      return viewer;
    };

    const idle = await open(assets.bank);
    if (idle) {
      const s = await measureStream('idle: demo portal accounts page', idle, config.streamSeconds);
      if (typeof s === 'string') report.problems.push(s);
      else report.streams.push(s);
      match('idle page (accounts)', idle);
    }
    const probe = await open(assets.live);
    if (probe) {
      const s = await measureStream('idle, focused field (caret blinks): transfer page', probe, config.streamSeconds);
      if (typeof s === 'string') report.problems.push(s);
      else {
        report.streams.push(s);
        report.input = await probeInput(probe, config.probes);
        if (report.input.timeouts > 0) report.problems.push(`input probes: ${report.input.timeouts} of ${config.probes} showed no change within 5 s`);
      }
      match('input probes (transfer page)', probe);
    }
    const busy = await open(assets.busy);
    if (busy) {
      const s = await measureStream('busy: animated page (bench)', busy, config.streamSeconds);
      if (typeof s === 'string') report.problems.push(s);
      else report.streams.push(s);
      match('busy page (animation)', busy);
    }
  } finally {
    for (const viewer of viewers) viewer.close();
    for (const id of opened) await endSession(caller, id).catch((error: unknown) => report.problems.push((error as Error).message));
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// (c2) memory with many sessions held.

interface HeldReport {
  held: number;
  wanted: number;
  errors: string[];
  startMs: number[];
  activeAfter: number;
  baseline: { processes: number; pssBytes: number };
  loaded: { processes: number; pssBytes: number };
}

async function measureHeld(config: SessionsBenchConfig, caller: Caller, assetId: string): Promise<HeldReport> {
  const baseline = chromiumMemory();
  const ids: string[] = [];
  const errors: string[] = [];
  const startMs: number[] = [];
  try {
    for (let i = 0; i < config.held; i++) {
      const r = await startSession(caller, assetId);
      if (r.session) {
        ids.push(r.session.id);
        startMs.push(r.ms);
      } else errors.push(r.error ?? 'unknown');
    }
    // Idle: let the last logins' pages settle and the renderers go quiet.
    await sleep(5000);
    const loaded = chromiumMemory();
    const list = await api(caller, 'GET', '/api/sessions');
    const sessions = (list.json as { sessions?: SessionJson[] } | null)?.sessions ?? [];
    const mine = new Set(ids);
    const activeAfter = sessions.filter((s) => mine.has(s.id) && s.state === 'active').length;
    return { held: ids.length, wanted: config.held, errors, startMs, activeAfter, baseline, loaded };
  } finally {
    // Ten at a time: ending is not measured.
    for (let i = 0; i < ids.length; i += 10) {
      await Promise.all(ids.slice(i, i + 10).map((id) => endSession(caller, id).catch((error: unknown) => errors.push((error as Error).message))));
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** Prints the figures and the goals; resolves false when a correctness check failed. */
export async function runSessions(config: SessionsBenchConfig): Promise<boolean> {
  console.log('\nBrowser sessions benchmark (demo portal on loopback; product in this process vs bare Playwright scripts, same Chromium)');
  console.log(
    `  node ${process.version}, ${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(2)} at start; ${config.sessions} logins per variant, ` +
      `${config.held} sessions held, ${config.probes} input probes, ${config.streamSeconds} s per stream; Chromium ${config.chromiumPath}; ` +
      `product on ${config.databaseUrl ? `PostgreSQL ${new URL(config.databaseUrl).host} + Redis` : 'embedded PGlite'}\n`,
  );
  const database = config.databaseUrl ? await createScratchDatabase(config.databaseUrl, config.redisUrl, 'wa_bench_sessions') : null;
  if (typeof database === 'string') throw new Error(`bench: ${database}`);
  const problems: string[] = [];
  const portal = createDemoPortal({ username: DEMO_CREDENTIALS.username, password: DEMO_CREDENTIALS.password });
  const portalUrl = await portal.start(0, '127.0.0.1');
  const busy = await startBusyPage();
  const product = await startProduct(config.chromiumPath, database?.env);
  const taps = tapPool(product.server.browser.pool);
  try {
    const caller = await signInOperator(product, `bench-${randomUUID().slice(0, 8)}`);
    const assets = await createAssets(product, portalUrl, busy.url, caller, config.held);

    // (a0): a second node without spare contexts, beside the first, for the logins only (its Chromium is gone before the memory figure).
    const plainDatabase = config.databaseUrl ? await createScratchDatabase(config.databaseUrl, config.redisUrl, 'wa_bench_sessions_plain') : null;
    if (typeof plainDatabase === 'string') throw new Error(`bench: ${plainDatabase}`);
    const plain = await startProduct(config.chromiumPath, { ...plainDatabase?.env, WEBASSET_BROWSER_SPARE_CONTEXTS: '0', WEBASSET_NODE_ID: 'bench-plain' });
    let logins: LoginTimes;
    try {
      tapPool(plain.server.browser.pool, taps);
      const plainCaller = await signInOperator(plain, `bench-${randomUUID().slice(0, 8)}`);
      await createAssets(plain, portalUrl, busy.url, plainCaller, config.held);
      logins = await measureLogins(config, caller, assets, { caller: plainCaller, assetId: assets.bank }, portalUrl, taps, product.server.browser.pool);
    } finally {
      await stopProductNode(plain);
      await plainDatabase?.drop();
    }
    problems.push(...logins.errors);
    printLogins(logins);

    const live = await measureLiveView(config, caller, assets, taps);
    problems.push(...live.problems);
    printLive(live);

    const held = await measureHeld(config, caller, assets.bank);
    printHeld(held);

    printGoals(logins, live, held);
  } finally {
    await stopProductNode(product);
    await portal.stop();
    busy.server.close();
    await database?.drop();
  }
  for (const p of problems) console.log(`PROBLEM: ${p}`);
  console.log(`load average after: ${loadavg()[0]!.toFixed(2)}`);
  return problems.length === 0;
}

function printLogins(t: LoginTimes): void {
  const a = stats(t.product);
  const rows = [
    ['(a) product, automatic recipe: POST /api/sessions until active', stats(t.product)],
    ['(a) product: record activeAt - createdAt', stats(t.productRecord)],
    ['  of (a): opening the context (pool.open)', stats(t.open)],
    ['  of (a): the login runner (browser.login)', stats(t.login)],
    ['  of (a): the rest (HTTP, access, audit, vault, db)', stats(t.rest)],
    ["(a') product, explicit recipe (fill, fill, click)", stats(t.recipe)],
    ["  of (a'): opening the context (pool.open)", stats(t.recipeOpen)],
    ["  of (a'): the login runner (browser.login)", stats(t.recipeLogin)],
    ['(a0) product without spare contexts (second node)', stats(t.plain)],
    ['  of (a0): opening the context (pool.open)', stats(t.plainOpen)],
    ['  of (a0): the login runner (browser.login)', stats(t.plainLogin)],
    ['(b) bare script, new Chromium per session', stats(t.cold)],
    ['(c) bare script, one warm Chromium, new context', stats(t.warm)],
  ] as const;
  console.log('start to logged in (request accepted -> success check passed), ms, sequential');
  console.log(
    table(
      ['variant', 'n', 'p50', 'p95', 'max', 'p50 vs (a)'],
      rows.map(([label, s]) => [label, fmtInt(s.n), fmtMs(s.p50), fmtMs(s.p95), fmtMs(s.max), fmtRatio(s.p50 / a.p50)]),
    ),
  );
}

function printLive(r: LiveReport): void {
  console.log('\nlive view over loopback (WebSocket client in this process, acks each frame on arrival), 1280x720, JPEG quality 70');
  console.log(
    table(
      ['stream', 'seconds', 'frames/s', 'bytes/s', 'KB/frame', 'first frame KB'],
      r.streams.map((s) => [s.label, s.seconds.toFixed(1), (s.frames / s.seconds).toFixed(1), fmtInt(s.bytes / s.seconds), s.frames ? (s.bytes / s.frames / 1024).toFixed(1) : '-', (s.firstFrameBytes / 1024).toFixed(1)]),
    ),
  );
  console.log('\ncapture (CDP frame timestamp) to arrival at the client, ms');
  console.log(
    table(
      ['frames of', 'arrived', 'matched', 'p50', 'p95', 'max', 'capture -> live view p50'],
      r.captureToArrival.map((c) => {
        const s = stats(c.total);
        return [c.label, fmtInt(c.frames), fmtInt(c.matched), fmtMs(s.p50), fmtMs(s.p95), fmtMs(s.max), fmtMs(stats(c.toProduct).p50)];
      }),
    ),
  );
  const i = stats(r.input.latencies);
  console.log(`\ninput to visible change (key down sent -> first changed frame arrived): n ${i.n}, p50 ${fmtMs(i.p50)} ms, p95 ${fmtMs(i.p95)} ms, max ${fmtMs(i.max)} ms, timeouts ${r.input.timeouts}`);
}

function printHeld(h: HeldReport): void {
  const perSession = h.loaded.pssBytes / Math.max(1, h.held);
  const marginal = (h.loaded.pssBytes - h.baseline.pssBytes) / Math.max(1, h.held);
  const s = stats(h.startMs);
  console.log(`\n${h.held} of ${h.wanted} sessions held through the product (idle, logged in, 5 s after the last login)`);
  console.log(
    table(
      ['Chromium', 'processes', 'PSS MB', 'per session MB'],
      [
        ['browser, no session', fmtInt(h.baseline.processes), (h.baseline.pssBytes / MB).toFixed(0), '-'],
        [`${h.held} sessions`, fmtInt(h.loaded.processes), (h.loaded.pssBytes / MB).toFixed(0), (perSession / MB).toFixed(1)],
        ['increase per session', '', '', (marginal / MB).toFixed(1)],
      ],
    ),
  );
  console.log(`starts while filling up: p50 ${fmtMs(s.p50)} ms, p95 ${fmtMs(s.p95)} ms, max ${fmtMs(s.max)} ms; still active afterwards: ${h.activeAfter}; errors: ${h.errors.length}`);
  for (const e of h.errors.slice(0, 5)) console.log(`  error: ${e}`);
}

function printGoals(t: LoginTimes, live: LiveReport, h: HeldReport): void {
  const a = stats(t.product);
  const b = stats(t.cold);
  const c = stats(t.warm);
  const capture = stats(live.captureToArrival.flatMap((x) => x.total));
  const input = stats(live.input.latencies);
  const perSession = h.loaded.pssBytes / Math.max(1, h.held) / MB;
  const heldOk = h.held === h.wanted && h.errors.length === 0 && h.activeAfter === h.wanted;
  const goals: Array<[string, string, boolean]> = [
    ['(a) p50 <= 1 s', `${fmtMs(a.p50)} ms`, a.p50 <= 1000],
    ['(a) <= 1.15x (c) warm bare script (p50)', fmtRatio(a.p50 / c.p50), a.p50 / c.p50 <= 1.15],
    ["(a') explicit recipe <= 1.15x (c) (p50)", fmtRatio(stats(t.recipe).p50 / c.p50), stats(t.recipe).p50 / c.p50 <= 1.15],
    ['(a) >= 1.5x faster than (b) new Chromium per session (p50)', `${fmtRatio(b.p50 / a.p50)} faster`, b.p50 / a.p50 >= 1.5],
    ['(a0) without spare contexts <= 1.15x (c) (p50; not a goal of its own)', fmtRatio(stats(t.plain).p50 / c.p50), stats(t.plain).p50 / c.p50 <= 1.15],
    ['(a0) without spare contexts >= 1.5x faster than (b) (p50; not a goal of its own)', `${fmtRatio(b.p50 / stats(t.plain).p50)} faster`, b.p50 / stats(t.plain).p50 >= 1.5],
    [`PSS per idle session with ${h.wanted} open <= 120 MB`, `${perSession.toFixed(1)} MB`, perSession <= 120],
    [`${h.wanted} sessions held without errors`, `${h.held} started, ${h.activeAfter} active, ${h.errors.length} errors`, heldOk],
    ['capture to arrival p50 <= 20 ms', `${fmtMs(capture.p50)} ms`, capture.p50 <= 20],
    ['capture to arrival p95 <= 100 ms', `${fmtMs(capture.p95)} ms`, capture.p95 <= 100],
    ['input to visible change p50 <= 60 ms', `${fmtMs(input.p50)} ms`, input.p50 <= 60],
    ['input to visible change p95 <= 100 ms', `${fmtMs(input.p95)} ms`, input.p95 <= 100],
  ];
  console.log('\ngoals (browser sessions)');
  console.log(table(['goal', 'measured', 'met'], goals.map(([g, m, met]) => [g, m, met ? 'yes' : 'NO'])));
}
