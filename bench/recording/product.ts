import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { BrowserPool, BrowserSession } from '../../src/browser/index.js';
import { DEMO_CREDENTIALS } from '../../src/demo-portal/index.js';
import { api, BENCH_ADMIN, signInOperator, type Caller } from '../api-caller.js';
import { startProductNode, type ProductNode } from '../product-node.js';

export { api, type Caller } from '../api-caller.js';

/** The product in this process, an operator who may connect to the demo portal, and the sessions' browser handles. */
export interface RecordingProduct {
  node: ProductNode;
  caller: Caller;
  assetId: string;
  /** The governed browser session of each session id, taken as the pool opens it (a measurement tap, as in bench/sessions.ts). */
  browsers: Map<string, BrowserSession>;
}


/**
 * Starts a product node whose recordings go to `recordingsDir` (default: its data folder), with
 * the demo portal as asset `bench-rec` (policy `recording`: `required`, or `best_effort` for the
 * run without recording, whose recordings folder cannot be written).
 */
export async function startRecordingProduct(options: { chromiumPath: string; portalUrl: string; recording: 'required' | 'best_effort'; recordingsDir?: string; sessions: number; env?: Record<string, string> }): Promise<RecordingProduct> {
  const node = await startProductNode('webasset-bench-rec-', {
    CHROMIUM_PATH: options.chromiumPath,
    WEBASSET_API_RATE_LIMIT: '1000000',
    ...(options.recordingsDir ? { WEBASSET_RECORDINGS_DIR: options.recordingsDir } : {}),
    ...options.env,
  });
  const { vault, assets, grants } = node.services;
  const caller = await signInOperator(node, `bench-${randomUUID().slice(0, 8)}`);
  const values = new Map([
    ['username', Buffer.from(DEMO_CREDENTIALS.username)],
    ['password', Buffer.from(DEMO_CREDENTIALS.password)],
  ]);
  await vault.set({ entryId: 'bench-rec-login', values }, node.services.systemActor);
  await assets.create(
    {
      id: 'bench-rec',
      name: 'Demo Bank (recording bench)',
      url: options.portalUrl,
      startUrl: `${options.portalUrl}/login`,
      credential: 'bench-rec-login',
      loginRecipe: null,
      successCheck: { selector: '#balance' },
      allowedHosts: ['127.0.0.1'],
      allowInsecureHttp: true,
      policy: { idleTimeoutMinutes: 120, maxSessions: null, maxSessionsPerCredential: Math.min(1000, options.sessions + 5), recording: options.recording },
    },
    BENCH_ADMIN,
  );
  await grants.create({ subjectKind: 'user', subjectId: caller.userId, assetId: 'bench-rec', actions: ['connect', 'replay'] }, BENCH_ADMIN);
  return { node, caller, assetId: 'bench-rec', browsers: tapBrowsers(node.server.browser.pool) };
}

function tapBrowsers(pool: BrowserPool): Map<string, BrowserSession> {
  const browsers = new Map<string, BrowserSession>();
  const open = pool.open.bind(pool);
  pool.open = async (spec) => {
    const session = await open(spec);
    browsers.set(spec.sessionId, session);
    return session;
  };
  return browsers;
}

/** POST /api/sessions answers once the session is active. */
export async function startSession(product: RecordingProduct): Promise<{ id: string; ms: number }> {
  const t0 = performance.now();
  const res = await api(product.caller, 'POST', '/api/sessions', { assetId: product.assetId });
  if (res.status !== 201) throw new Error(`starting a session answered ${res.status}: ${res.text.slice(0, 300)}`);
  return { id: (res.json as { id: string }).id, ms: performance.now() - t0 };
}

export async function endSession(product: RecordingProduct, id: string): Promise<void> {
  const res = await api(product.caller, 'DELETE', `/api/sessions/${encodeURIComponent(id)}`);
  if (res.status !== 200) throw new Error(`ending session ${id} answered ${res.status}: ${res.text.slice(0, 200)}`);
}
