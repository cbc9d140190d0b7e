import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';
import pino from 'pino';
import { createDocumentSigner, createDocumentVerifier } from '../../src/audit/index.js';
import { DEFAULT_LAUNCH_ARGS, findChromium } from '../../src/browser/index.js';
import { randomIds } from '../../src/core/index.js';
import { createFileRecordingStorage, createRecordings, type RecordingEventBody, type Recordings } from '../../src/recording/index.js';
import { ManualClock } from '../support/manual-clock.js';
import type { TestServer } from '../support/server.js';

/**
 * Real JPEGs: Chromium screenshots of a page that shows `Frame <i>` on a colour of its own
 * (hue 37° apart), so a painted canvas tells which frame it shows.
 */
export async function screenshotJpegs(count: number, size = { width: 320, height: 180 }): Promise<Buffer[]> {
  const browser = await chromium.launch({ executablePath: findChromium(undefined), args: [...DEFAULT_LAUNCH_ARGS] });
  try {
    const page = await browser.newPage({ viewport: size });
    const out: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      await page.setContent(`<body style="margin:0;background:${frameColour(i)};font:bold 48px sans-serif;color:#fff;display:flex;align-items:center;justify-content:center;height:100vh">Frame ${i}</body>`);
      out.push(await page.screenshot({ type: 'jpeg', quality: 60 }));
    }
    return out;
  } finally {
    await browser.close();
  }
}

/** The background of frame i: fully saturated, so JPEG artefacts do not blur two frames together. */
export function frameColour(i: number): string {
  return `hsl(${(i * 37) % 360} 90% 45%)`;
}

export interface RecorderNode {
  recordings: Recordings;
  clock: ManualClock;
}

/**
 * A second product node that records (the server under test replays): the
 * same database and recordings folder, its own clock, so a test chooses every
 * frame's and event's time without moving the server's clock (and its web
 * sessions' timeouts).
 */
export function recorderNode(ts: TestServer, start = Date.UTC(2026, 0, 5, 9, 0, 0), options: { maxChunkBytes?: number; signingKey?: string } = {}): RecorderNode {
  const clock = new ManualClock(start);
  // A key of its own unless told (a bundle checked against the deployment's key needs the deployment's).
  const signer = createDocumentSigner(options.signingKey ?? randomBytes(32).toString('base64'));
  const recordings = createRecordings({
    db: ts.services.database.db,
    storage: createFileRecordingStorage(ts.services.config.recordingsDir),
    trail: ts.services.audit.trail,
    signer,
    verifier: createDocumentVerifier([signer.publicKey]),
    clock,
    ids: randomIds,
    nodeId: 'recorder-node',
    logger: pino({ level: 'silent' }),
    // Small chunks by default: a short test recording still spans several chunk files.
    maxChunkBytes: options.maxChunkBytes ?? 64 * 1024,
  });
  return { recordings, clock };
}

/** What a sample recording holds, each at its time in ms since the start. */
export type Step = { at: number; frame: number } | { at: number; event: RecordingEventBody };

/** Records `steps` (in time order) for one session and seals it complete; returns the recording id. */
export async function record(
  node: RecorderNode,
  info: { sessionId: string; assetId: string; userId: string; retentionDays?: number },
  jpegs: readonly Buffer[],
  steps: readonly Step[],
  endAt?: number,
): Promise<string> {
  const recorder = await node.recordings.begin({ retentionDays: 365, ...info });
  let now = 0;
  for (const step of steps) {
    node.clock.advance(step.at - now);
    now = step.at;
    if ('frame' in step) recorder.frame(jpegs[step.frame]!, 1280, 720);
    else recorder.event(step.event);
  }
  if (endAt !== undefined) node.clock.advance(endAt - now);
  await recorder.seal({ complete: true });
  return recorder.recordingId;
}

/** Decodes the frame stream of GET /api/recordings/:id/frames (docs/api.md). */
export function decodeFrameStream(bytes: Buffer): Array<{ t: number; width: number; height: number; jpeg: Buffer }> {
  const out: Array<{ t: number; width: number; height: number; jpeg: Buffer }> = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (bytes.length - offset < 12) throw new Error(`frame stream: ${bytes.length - offset} stray bytes at the end`);
    const length = bytes.readUInt32BE(offset);
    const t = bytes.readUInt32BE(offset + 4);
    const width = bytes.readUInt16BE(offset + 8);
    const height = bytes.readUInt16BE(offset + 10);
    const jpeg = bytes.subarray(offset + 12, offset + 12 + length);
    if (jpeg.length !== length) throw new Error('frame stream: a frame is cut short');
    out.push({ t, width, height, jpeg });
    offset += 12 + length;
  }
  return out;
}
