/**
 * `npm run bench -- screencast`: what a session's second viewer costs the live view's frames.
 *
 * One browser module session (src/browser, the pool's own Chromium, no product around it) on a
 * page that changes every animation frame, with a streaming viewer like the live view (ack on
 * arrival) and, in turn, one of three companions:
 *   alone     no companion;
 *   paced     a second screencast acked 750 ms after each frame (how the recording ran before
 *             decision 0024's 2026-12-06 addendum);
 *   sampled   a sampled viewer acked 750 ms after each picture (how the recording runs now: a
 *             screenshot after a change the stream showed).
 * Capture to arrival is the frame's CDP timestamp (Chromium's clock) against this process's
 * clock, so its absolute value carries the offset between the two (it can be below 0); the
 * differences to `alone` within one run are what the benchmark shows. Arrangements run in
 * rotating order, a fresh session each, so a change in the machine's speed falls on all of them.
 *
 * BENCH_SCREENCAST_ROUNDS (3) rounds of BENCH_SCREENCAST_SECONDS (5) measured seconds each, after
 * a 1 s warm-up; CHROMIUM_PATH as elsewhere.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createBrowserPool, DEFAULT_LAUNCH_ARGS, findChromium, type BrowserPool, type ScreencastFrame, type ScreencastOptions } from '../src/browser/index.js';
import { fmtMs, fmtRatio, percentile, positiveFromEnv, table } from './harness.js';
import { BUSY_PAGE } from './sessions.js';

export interface ScreencastBenchConfig {
  rounds: number;
  seconds: number;
  chromiumPath: string | undefined;
}

export function screencastConfigFromEnv(env: NodeJS.ProcessEnv): ScreencastBenchConfig {
  return {
    rounds: positiveFromEnv(env, 'BENCH_SCREENCAST_ROUNDS', 3, 'integer'),
    seconds: positiveFromEnv(env, 'BENCH_SCREENCAST_SECONDS', 5, 'number'),
    chromiumPath: env.CHROMIUM_PATH || undefined,
  };
}

const ARRANGEMENTS = ['alone', 'paced', 'sampled'] as const;
type Arrangement = (typeof ARRANGEMENTS)[number];
/** The live view's options for a 1280×720 window (src/http/live-view/viewport.ts). */
const STREAM: ScreencastOptions = { maxWidth: 1280, maxHeight: 720, quality: 70 };
/** The recording's (src/sessions/session-recording.ts), without and with `sampled`. */
const COMPANION: ScreencastOptions = { maxWidth: 1280, maxHeight: 720, quality: 40 };
const COMPANION_ACK_MS = 750;

interface Round {
  latencies: number[];
  streamFrames: number;
  companionPictures: number;
}

async function measureRound(pool: BrowserPool, url: string, arrangement: Arrangement, seconds: number): Promise<Round> {
  const session = await pool.open({
    sessionId: `bench-screencast-${arrangement}-${Date.now()}`,
    allowedHosts: ['127.0.0.1'],
    allowInsecureHttp: true,
    policy: { downloads: 'block', uploads: 'block', clipboardCopy: 'deny', clipboardPaste: 'deny' },
    onEvent: () => undefined,
  });
  const timers = new Set<NodeJS.Timeout>();
  try {
    await session.navigate(url);
    let measuring = false;
    const round: Round = { latencies: [], streamFrames: 0, companionPictures: 0 };
    const stops: Array<() => Promise<void>> = [];
    if (arrangement !== 'alone') {
      const options = arrangement === 'sampled' ? { ...COMPANION, sampled: true } : COMPANION;
      stops.push(
        await session.startScreencast(options, (frame: ScreencastFrame) => {
          if (measuring) round.companionPictures += 1;
          const timer = setTimeout(() => {
            timers.delete(timer);
            frame.ack();
          }, COMPANION_ACK_MS);
          timers.add(timer);
        }),
      );
    }
    stops.push(
      await session.startScreencast(STREAM, (frame: ScreencastFrame) => {
        if (measuring) {
          round.streamFrames += 1;
          round.latencies.push(Date.now() - frame.timestampMs);
        }
        frame.ack();
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    measuring = true;
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    measuring = false;
    for (const stop of stops) await stop();
    return round;
  } finally {
    for (const timer of timers) clearTimeout(timer);
    await session.close();
  }
}

export async function runScreencast(config: ScreencastBenchConfig): Promise<boolean> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(BUSY_PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const pool = createBrowserPool({ chromiumPath: findChromium(config.chromiumPath), logger: pino({ level: 'silent' }), launchArgs: DEFAULT_LAUNCH_ARGS });
  console.log('\nScreencast companions (browser module alone, animated page, 1280x720; a streaming viewer acking on arrival)');
  console.log(`  ${config.rounds} rounds x ${config.seconds} s per arrangement, rotating order`);
  const results = new Map<Arrangement, Round[]>(ARRANGEMENTS.map((a) => [a, []]));
  try {
    for (let round = 0; round < config.rounds; round++) {
      for (let i = 0; i < ARRANGEMENTS.length; i++) {
        const arrangement = ARRANGEMENTS[(round + i) % ARRANGEMENTS.length]!;
        results.get(arrangement)!.push(await measureRound(pool, url, arrangement, config.seconds));
      }
    }
  } finally {
    await pool.close();
    server.close();
  }

  const summary = ARRANGEMENTS.map((arrangement) => {
    const rounds = results.get(arrangement)!;
    const sorted = Float64Array.from(rounds.flatMap((r) => r.latencies)).sort();
    const seconds = rounds.length * config.seconds;
    return {
      arrangement,
      p50: percentile(sorted, 0.5),
      p95: percentile(sorted, 0.95),
      p99: percentile(sorted, 0.99),
      fps: rounds.reduce((n, r) => n + r.streamFrames, 0) / seconds,
      companion: rounds.reduce((n, r) => n + r.companionPictures, 0) / seconds,
    };
  });
  const alone = summary[0]!;
  console.log('\nstream frames: capture (CDP timestamp) to arrival in this process, ms; differences to "alone" in brackets');
  console.log(
    table(
      ['arrangement', 'frames/s', 'vs alone', 'p50', 'p95', 'p99', 'companion pictures/s'],
      summary.map((s) => [
        s.arrangement,
        s.fps.toFixed(1),
        fmtRatio(s.fps / alone.fps),
        `${fmtMs(s.p50)} (${s === alone ? '-' : `+${fmtMs(s.p50 - alone.p50)}`})`,
        `${fmtMs(s.p95)} (${s === alone ? '-' : `+${fmtMs(s.p95 - alone.p95)}`})`,
        `${fmtMs(s.p99)} (${s === alone ? '-' : `+${fmtMs(s.p99 - alone.p99)}`})`,
        s === alone ? '-' : s.companion.toFixed(2),
      ]),
    ),
  );
  // Correctness, not speed: every arrangement streamed, and each companion got pictures of the changing page.
  const ok = summary.every((s) => s.fps > 0) && summary.every((s) => s === alone || s.companion > 0);
  if (!ok) console.log('FAILED: an arrangement streamed no frame, or a companion got no picture');
  return ok;
}
