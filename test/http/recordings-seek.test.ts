import { randomUUID } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { sessionCaller, type Caller } from './admin-callers.js';
import { decodeFrameStream, record, recorderNode, screenshotJpegs, type Step } from './recordings-fixtures.js';

const HOUR_MS = 3_600_000;
/** One frame every 2 s for an hour (0.5 fps: a screen that changes often enough to matter, and 1800 real JPEGs). */
const FRAME_EVERY_MS = 2_000;

/**
 * Seeking over HTTP in a 1-hour recording: the stream begins with the last frame at or before the
 * time. That a seek reads only the chunk holding the time is proven in test/recording/recorder.test.ts;
 * how long it takes is measured by bench/recording (tests never assert timings).
 */
describe('/api/recordings: seeking in a 1-hour recording', () => {
  let ts: TestServer;
  let auditor: Caller;
  let id: string;

  beforeAll(async () => {
    const jpegs = await screenshotJpegs(3);
    ts = await startTestServer();
    auditor = await sessionCaller(ts, 'seek-auditor', ['auditor']);
    const steps: Step[] = [];
    for (let at = 0, i = 0; at < HOUR_MS; at += FRAME_EVERY_MS, i++) {
      steps.push({ at, frame: i % 3 });
      if (i % 30 === 0) steps.push({ at: at + 1, event: { type: 'navigated', tabId: 't1', url: `https://portal.test/page/${i}`, title: `Page ${i}` } });
    }
    // Chunks of the product's default size (1 MiB), as a real recording has them.
    id = await record(recorderNode(ts, undefined, { maxChunkBytes: 1024 * 1024 }), { sessionId: randomUUID(), assetId: 'portal', userId: randomUUID() }, jpegs, steps, HOUR_MS);
  }, 300_000);
  afterAll(async () => {
    await ts?.stop();
  });

  it('is an hour long, in many chunks', async () => {
    const res = await fetch(`${ts.url}/api/recordings/${id}`, { headers: auditor.headers('GET') });
    const { recording } = (await res.json()) as { recording: { durationMs: number; frames: number; chunks: number } };
    expect(recording.durationMs).toBe(HOUR_MS);
    expect(recording.frames).toBe(HOUR_MS / FRAME_EVERY_MS);
    expect(recording.chunks).toBeGreaterThan(5);
  });

  it.each([59 * 60_000 + 30_001, 30 * 60_000 + 1, 1])('answers a seek to %i ms with the last frame at or before it', async (from) => {
    const bytes = await firstFrameBytes(`${ts.url}/api/recordings/${id}/frames?from=${from}`, auditor.headers('GET'));
    const first = decodeFrameStream(bytes.subarray(0, 12 + bytes.readUInt32BE(0)))[0]!;
    expect(first.t).toBe(Math.floor(from / FRAME_EVERY_MS) * FRAME_EVERY_MS);
    expect(first.jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');
  });

  it('answers a single frame near the end', async () => {
    const res = await fetch(`${ts.url}/api/recordings/${id}/frame?t=${HOUR_MS - 1}`, { headers: auditor.headers('GET') });
    const jpeg = Buffer.from(await res.arrayBuffer());
    expect(res.headers.get('x-frame-t')).toBe(String(HOUR_MS - FRAME_EVERY_MS));
    expect(jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');
  });
});

/**
 * Reads a frame stream until its first whole frame, then hangs up, as a browser does on a seek.
 * node:http rather than fetch: an aborted fetch keeps its connection open and draining.
 */
async function firstFrameBytes(url: string, headers: Record<string, string>): Promise<Buffer> {
  const req = request(url, { headers });
  req.end();
  const res = await new Promise<IncomingMessage>((resolve, reject) => req.on('response', resolve).on('error', reject));
  expect(res.statusCode).toBe(200);
  let bytes = Buffer.alloc(0);
  try {
    for await (const chunk of res) {
      bytes = Buffer.concat([bytes, chunk as Buffer]);
      if (bytes.length >= 12 && bytes.length >= 12 + bytes.readUInt32BE(0)) break;
    }
  } finally {
    req.destroy();
  }
  return bytes;
}
