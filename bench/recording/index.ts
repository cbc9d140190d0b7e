import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDocumentSigner, createDocumentVerifier } from '../../src/audit/index.js';
import { createDemoPortal, DEMO_CREDENTIALS } from '../../src/demo-portal/index.js';
import {
  createFileRecordingStorage,
  createRecordingExporter,
  createRecordings,
  exportRecording,
  findFfmpeg,
  probeDurationMs,
  type RecordedFrame,
  type RecordingSummary,
} from '../../src/recording/index.js';
import { fmtInt, fmtMs, percentile, positiveFromEnv, table } from '../harness.js';
import { createScratchDatabase, stopProductNode } from '../product-node.js';
import { cpuShare, sampleCpu } from './cpu.js';
import { api, endSession, startRecordingProduct, startSession, type RecordingProduct } from './product.js';
import { operatorScript } from './script.js';

/**
 * `bench/recording` (`npm run bench -- recording`): session recordings on the demo portal.
 * See docs/benchmarks.md, "Session recordings".
 */
export interface RecordingBenchConfig {
  /** Length of the scripted session, each of the two runs (recording on, off). */
  seconds: number;
  /** Recorded sessions that end at the same moment. */
  concurrent: number;
  /** How long those sessions run (with navigations) before they end together. */
  burstSeconds: number;
  /** Length of the synthetic recording seeks are timed in. */
  seekMinutes: number;
  seeks: number;
  chromiumPath: string;
  /** A PostgreSQL server: the recorded node runs on a fresh database there and on Redis (null: embedded PGlite). */
  databaseUrl: string | null;
  redisUrl: string;
}

export function recordingConfigFromEnv(env: NodeJS.ProcessEnv): RecordingBenchConfig {
  const num = (name: string, fallback: number): number => positiveFromEnv(env, name, fallback, 'integer');
  return {
    seconds: num('BENCH_REC_SECONDS', 300),
    concurrent: num('BENCH_REC_CONCURRENT', 20),
    burstSeconds: num('BENCH_REC_BURST_SECONDS', 15),
    seekMinutes: num('BENCH_REC_SEEK_MINUTES', 60),
    seeks: num('BENCH_REC_SEEKS', 20),
    chromiumPath: env.CHROMIUM_PATH || '/usr/bin/chromium',
    databaseUrl: env.BENCH_REC_DATABASE_URL || null,
    redisUrl: env.BENCH_REC_REDIS_URL || 'redis://127.0.0.1:6379',
  };
}

const MB = 1024 * 1024;
const GOALS = { bytesPerMinute: 1 * MB, cpuShare: 0.05, healthzP99Ms: 50, seekMs: 1000 };

interface ScriptRun {
  label: string;
  seconds: number;
  cycles: number;
  actions: number;
  cpu: { node: number; chromium: number; total: number };
  recording: RecordingSummary | null;
}

/** Prints the figures and the goals; resolves false when a correctness check failed. */
export async function runRecording(config: RecordingBenchConfig): Promise<boolean> {
  console.log('\nSession recordings benchmark (demo portal on loopback, product in this process)');
  console.log(
    `  node ${process.version}, ${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(2)} at start; scripted session ${config.seconds} s, ` +
      `${config.concurrent} sessions ending together after ${config.burstSeconds} s, seeks in a ${config.seekMinutes}-minute recording; Chromium ${config.chromiumPath}; ` +
      `recorded node on ${config.databaseUrl ? `PostgreSQL ${new URL(config.databaseUrl).host} + Redis` : 'embedded PGlite'}\n`,
  );
  // The recorded node only: the run without recording stays embedded (its CPU figure is the node's and Chromium's, not the database's).
  const database = config.databaseUrl ? await createScratchDatabase(config.databaseUrl, config.redisUrl, 'wa_bench_rec') : null;
  if (typeof database === 'string') throw new Error(`bench: ${database}`);
  const problems: string[] = [];
  const tools = findFfmpeg({ configured: process.env.FFMPEG_PATH, pathEnv: process.env.PATH });
  const portal = createDemoPortal({ username: DEMO_CREDENTIALS.username, password: DEMO_CREDENTIALS.password });
  const portalUrl = await portal.start(0, '127.0.0.1');
  const scratch = mkdtempSync(join(tmpdir(), 'webasset-bench-rec-out-'));
  try {
    // (a) + (b): the scripted session with recording, exported to WebM; (c) ending together; (d) seeks. Same node.
    const on = await startRecordingProduct({ chromiumPath: config.chromiumPath, portalUrl, recording: 'required', sessions: config.concurrent, env: database?.env });
    let recorded: ScriptRun;
    try {
      recorded = await scripted(on, portalUrl, config.seconds, 'recording on');
      if (!recorded.recording) problems.push('the scripted session left no recording');
      const exported = recorded.recording ? await exportWebm(on, recorded.recording, tools, scratch, problems) : null;
      const burst = await endTogether(on, portalUrl, config, problems);
      const seek = await seekTimes(on, config, recorded.recording, problems);
      // (b) without recording: a node whose recordings folder cannot be written, on an asset where recording is best effort.
      await stopProductNode(on.node);
      const off = await startRecordingProduct({ chromiumPath: config.chromiumPath, portalUrl, recording: 'best_effort', recordingsDir: '/dev/null/recordings', sessions: 1 });
      let unrecorded: ScriptRun;
      try {
        unrecorded = await scripted(off, portalUrl, config.seconds, 'recording off');
        if (unrecorded.recording) problems.push('the run without recording made a recording');
      } finally {
        await stopProductNode(off.node);
      }
      report(config, recorded, unrecorded, exported, burst, seek);
    } catch (error) {
      await stopProductNode(on.node).catch(() => undefined);
      throw error;
    }
  } finally {
    await portal.stop();
    rmSync(scratch, { recursive: true, force: true });
    await database?.drop();
  }
  for (const p of problems) console.log(`PROBLEM: ${p}`);
  console.log(`load average after: ${loadavg()[0]!.toFixed(2)}`);
  return problems.length === 0;
}

// ---------------------------------------------------------------------------------------------
// (a), (b): one scripted session; CPU of the product and its Chromium while it runs.

async function scripted(product: RecordingProduct, portalUrl: string, seconds: number, label: string): Promise<ScriptRun> {
  const { id } = await startSession(product);
  const browser = product.browsers.get(id);
  if (!browser) throw new Error('bench: the session\'s browser was not tapped');
  // Settle after the login, so both runs measure the same thing: the script.
  await sleep(1000);
  const before = sampleCpu();
  const done = await operatorScript(browser, portalUrl, seconds);
  const after = sampleCpu();
  await endSession(product, id);
  const page = await product.node.services.recordings.list({ limit: 200 });
  const summary = page.items.find((r) => r.sessionId === id) ?? null;
  return { label, seconds: (after.atMs - before.atMs) / 1000, ...done, cpu: cpuShare(before, after), recording: summary };
}

interface Exported {
  bytes: number;
  ms: number;
  probedMs: number;
}

async function exportWebm(product: RecordingProduct, recording: RecordingSummary, tools: ReturnType<typeof findFfmpeg>, dir: string, problems: string[]): Promise<Exported | null> {
  const { services } = product.node;
  const exporter = createRecordingExporter({ tools: () => tools });
  const outPath = join(dir, `${recording.id}.webm`);
  const t0 = performance.now();
  const result = await exportRecording({ recordings: services.recordings, trail: services.audit.trail, exporter }, { id: recording.id, format: 'webm', outPath, actor: services.systemActor });
  const ms = performance.now() - t0;
  const probedMs = await probeDurationMs(tools.ffprobe, outPath);
  if (Math.abs(probedMs - recording.durationMs) > 1000) problems.push(`WebM lasts ${probedMs} ms, the recording ${recording.durationMs} ms`);
  return { bytes: result.bytes, ms, probedMs };
}

// ---------------------------------------------------------------------------------------------
// (c): N recorded sessions end at the same moment; GET /healthz latency meanwhile.

interface Burst {
  sessions: number;
  startP50: number;
  endAllMs: number;
  sealedMs: number;
  sealed: number;
  before: Float64Array;
  during: Float64Array;
}

async function endTogether(product: RecordingProduct, portalUrl: string, config: RecordingBenchConfig, problems: string[]): Promise<Burst> {
  const starts: number[] = [];
  const ids: string[] = [];
  try {
    for (let i = 0; i < config.concurrent; i++) {
      const s = await startSession(product);
      ids.push(s.id);
      starts.push(s.ms);
    }
  } catch (error) {
    problems.push(`(c) started ${ids.length} of ${config.concurrent} sessions: ${(error as Error).message}`);
  }
  // Each session goes back and forth between two pages, so every recording has frames to flush at the end.
  const until = performance.now() + config.burstSeconds * 1000;
  const activity = ids.map(async (id, i) => {
    const browser = product.browsers.get(id);
    for (let k = i; browser && !browser.closed && performance.now() < until; k++) {
      await browser.navigate(`${portalUrl}/${k % 2 === 0 ? 'transfer' : 'accounts'}`).catch(() => undefined);
      await sleep(2000);
    }
  });
  await Promise.all(activity);

  const probe = healthzProbe(product.node.url);
  await sleep(2000);
  const endAt = performance.now();
  const results = await Promise.allSettled(ids.map((id) => endSession(product, id)));
  const endAllMs = performance.now() - endAt;
  for (const r of results) if (r.status === 'rejected') problems.push(`(c) ${(r.reason as Error).message}`);
  // Sealing runs as part of ending; wait until every recording says sealed.
  const wanted = new Set(ids);
  let sealed = 0;
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    const page = await product.node.services.recordings.list({ limit: 200 });
    sealed = page.items.filter((r) => wanted.has(r.sessionId) && r.state === 'sealed').length;
    if (sealed === ids.length) break;
    await sleep(50);
  }
  const sealedMs = performance.now() - endAt;
  if (sealed !== ids.length) problems.push(`(c) ${sealed} of ${ids.length} recordings sealed after 60 s`);
  await sleep(1000);
  const samples = await probe.stop();
  const before = Float64Array.from(samples.filter((s) => s.atMs < endAt).map((s) => s.ms)).sort();
  const during = Float64Array.from(samples.filter((s) => s.atMs >= endAt && s.atMs <= endAt + sealedMs + 1000).map((s) => s.ms)).sort();
  return { sessions: ids.length, startP50: percentile(Float64Array.from(starts).sort(), 0.5), endAllMs, sealedMs, sealed, before, during };
}

/** Two callers asking GET /healthz back to back, each request timed from send to the end of the answer. */
function healthzProbe(url: string): { stop(): Promise<Array<{ atMs: number; ms: number }>> } {
  const samples: Array<{ atMs: number; ms: number }> = [];
  let running = true;
  const loop = async () => {
    while (running) {
      const t0 = performance.now();
      try {
        const res = await fetch(`${url}/healthz`);
        await res.arrayBuffer();
        samples.push({ atMs: t0, ms: performance.now() - t0 });
      } catch {
        samples.push({ atMs: t0, ms: Number.POSITIVE_INFINITY });
      }
      await sleep(10);
    }
  };
  const loops = [loop(), loop()];
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return samples;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// (d): a synthetic recording of `seekMinutes` (a frame every 500 ms, the capture cap, from the scripted
// session's own frames), then the time to the first frame at random points: in-process and over HTTP.

interface Seek {
  frames: number;
  chunks: number;
  bytes: number;
  writeMs: number;
  inProcess: Float64Array;
  http: Float64Array;
}

async function seekTimes(product: RecordingProduct, config: RecordingBenchConfig, source: RecordingSummary | null, problems: string[]): Promise<Seek | null> {
  const { services } = product.node;
  const jpegs: RecordedFrame[] = [];
  if (source) for await (const f of services.recordings.frames(source.id, 0)) if (jpegs.push(f) >= 60) break;
  if (jpegs.length < 2) {
    problems.push('(d) the scripted session has fewer than 2 frames to build the synthetic recording from');
    return null;
  }
  let now = Date.now();
  const clock = { now: () => now };
  const signer = createDocumentSigner(Buffer.alloc(32, 7).toString('base64'));
  // The node's database and recordings folder, with the node's signing key (startProductNode fixes it): the node's own service reads it.
  const writer = createRecordings({
    db: services.database.db,
    storage: createFileRecordingStorage(services.config.recordingsDir),
    trail: services.audit.trail,
    signer,
    verifier: createDocumentVerifier([signer.publicKey]),
    clock,
    ids: services.ids,
    nodeId: services.config.nodeId,
    logger: services.logger,
  });
  const t0 = performance.now();
  const recorder = await writer.begin({ sessionId: randomUUID(), assetId: product.assetId, userId: product.caller.userId, retentionDays: 1 });
  const total = config.seekMinutes * 120;
  for (let i = 0; i < total; i++) {
    const f = jpegs[i % jpegs.length]!;
    recorder.frame(f.jpeg, f.width, f.height);
    if (i % 20 === 0) recorder.event({ type: 'navigated', tabId: 't1', url: `http://127.0.0.1/page-${i}`, title: `Page ${i}` });
    now += 500;
    // Let the writer keep up (chunks are written in the background): memory stays at a chunk or two.
    if (i % 50 === 49) await sleep(5);
  }
  const sealed = await recorder.seal({ complete: true });
  const writeMs = performance.now() - t0;
  const durationMs = sealed.durationMs;
  const inProcess: number[] = [];
  const http: number[] = [];
  let httpRoute = true;
  for (let k = 0; k < config.seeks; k++) {
    const t = Math.floor(Math.random() * durationMs);
    const a = performance.now();
    const iterator = services.recordings.frames(sealed.recordingId, t)[Symbol.asyncIterator]();
    const first = await iterator.next();
    await iterator.return?.();
    inProcess.push(performance.now() - a);
    if (first.done) problems.push(`(d) no frame at ${t} ms`);
    if (!httpRoute) continue;
    const b = performance.now();
    const res = await api(product.caller, 'GET', `/api/recordings/${sealed.recordingId}/frame?t=${t}`);
    http.push(performance.now() - b);
    // A build whose server does not serve the recordings routes yet: the in-process figure stands alone.
    if (res.status === 404 && k === 0) {
      httpRoute = false;
      http.length = 0;
      console.log('(d) GET /api/recordings/:id/frame answered 404: not served by this build; only the in-process seek is measured');
    } else if (res.status !== 200) problems.push(`(d) GET .../frame?t=${t} answered ${res.status}`);
  }
  return { frames: total, chunks: sealed.chunks, bytes: sealed.bytes, writeMs, inProcess: Float64Array.from(inProcess).sort(), http: Float64Array.from(http).sort() };
}

// ---------------------------------------------------------------------------------------------

function report(config: RecordingBenchConfig, on: ScriptRun, off: ScriptRun, exported: Exported | null, burst: Burst, seek: Seek | null): void {
  const r = on.recording;
  const minutes = r ? r.durationMs / 60_000 : Number.NaN;
  const nativePerMin = r ? r.bytes / minutes : Number.NaN;
  const webmPerMin = exported && r ? exported.bytes / minutes : Number.NaN;
  console.log(`(a) scripted session (${on.cycles} cycles of: accounts, scroll, transfer form, type, home), ${(r?.durationMs ?? 0) / 1000} s recorded`);
  console.log(
    table(
      ['format', 'bytes', 'bytes/minute', 'MB/minute', 'frames', 'note'],
      [
        ['native (JPEG frames + events)', fmtInt(r?.bytes ?? Number.NaN), fmtInt(nativePerMin), (nativePerMin / MB).toFixed(2), fmtInt(r?.frames ?? Number.NaN), `${r?.chunks ?? '-'} chunks, ${r?.events ?? '-'} events`],
        ['WebM (VP9, ffmpeg, on demand)', fmtInt(exported?.bytes ?? Number.NaN), fmtInt(webmPerMin), (webmPerMin / MB).toFixed(2), '', exported ? `export ${fmtMs(exported.ms)} ms, ffprobe ${exported.probedMs} ms` : ''],
      ],
    ),
  );
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  console.log(`\n(b) CPU while the script runs (${on.seconds.toFixed(0)} s each), share of one core`);
  console.log(
    table(
      ['run', 'product (node)', 'Chromium', 'total'],
      [
        [on.label, pct(on.cpu.node), pct(on.cpu.chromium), pct(on.cpu.total)],
        [off.label, pct(off.cpu.node), pct(off.cpu.chromium), pct(off.cpu.total)],
        ['recording costs', pct(on.cpu.node - off.cpu.node), pct(on.cpu.chromium - off.cpu.chromium), pct(on.cpu.total - off.cpu.total)],
      ],
    ),
  );
  const q = (a: Float64Array) => [fmtInt(a.length), fmtMs(percentile(a, 0.5)), fmtMs(percentile(a, 0.99)), fmtMs(a.length ? a[a.length - 1]! : Number.NaN)];
  console.log(`\n(c) ${burst.sessions} recorded sessions end at the same moment (started one after another, p50 ${fmtMs(burst.startP50)} ms each; ${config.burstSeconds} s of navigation first)`);
  console.log(`    all DELETEs answered in ${fmtMs(burst.endAllMs)} ms; ${burst.sealed} recordings sealed after ${fmtMs(burst.sealedMs)} ms`);
  console.log(table(['GET /healthz', 'n', 'p50 ms', 'p99 ms', 'max ms'], [['2 s before', ...q(burst.before)], ['while ending and sealing (+1 s)', ...q(burst.during)]]));
  if (seek) {
    console.log(`\n(d) synthetic ${config.seekMinutes}-minute recording: ${fmtInt(seek.frames)} frames, ${seek.chunks} chunks, ${(seek.bytes / MB).toFixed(0)} MB, written in ${(seek.writeMs / 1000).toFixed(1)} s`);
    console.log(table(['seek to a random point', 'n', 'p50 ms', 'p99 ms', 'max ms'], [['frames(id, t): first frame', ...q(seek.inProcess)], ['GET /api/recordings/:id/frame?t=', ...q(seek.http)]]));
  }
  const cost = on.cpu.total - off.cpu.total;
  const healthP99 = percentile(burst.during, 0.99);
  const seekMax = seek ? Math.max(seek.inProcess.at(-1) ?? Number.NaN, seek.http.at(-1) ?? Number.NaN) : Number.NaN;
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  console.log('\ngoals');
  console.log(
    table(
      ['goal', 'measured', 'verdict'],
      [
        ['native ≤ 1 MB/minute at 1280x720', `${(nativePerMin / MB).toFixed(2)} MB/min`, verdict(nativePerMin <= GOALS.bytesPerMinute)],
        ['recording ≤ 5% of one core per session', pct(cost), verdict(cost <= GOALS.cpuShare)],
        [`p99 GET /healthz < 50 ms while ${burst.sessions} end`, `${fmtMs(healthP99)} ms`, verdict(healthP99 < GOALS.healthzP99Ms)],
        ['seek ≤ 1 s in a 1-hour recording', `${fmtMs(seekMax)} ms (max)`, verdict(seekMax <= GOALS.seekMs)],
      ],
    ),
  );
}
