import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/index.js';
import { createRecordingExporter, exportRecording, findFfmpeg, probeDurationMs, type VideoFrame } from '../../src/recording/index.js';
import { useTestDatabase } from '../support/databases.js';
import { buildStack, CANARY_PASSWORD, CANARY_USERNAME, eventually, usePoolAndPortal } from '../sessions/support.js';

// Real ffmpeg and ffprobe from the operating system (the package `ffmpeg`).
const tools = findFfmpeg({ pathEnv: process.env.PATH });

let dir: string;
const jpegs = new Map<string, Buffer>();

/** A solid-colour JPEG made by ffmpeg itself. */
function jpeg(color: string, width: number, height: number): Buffer {
  const key = `${color}-${width}x${height}`;
  const cached = jpegs.get(key);
  if (cached) return cached;
  const file = join(dir, `${key}.jpg`);
  execFileSync(tools.ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=${color}:s=${width}x${height}`, '-frames:v', '1', file]);
  const bytes = readFileSync(file);
  jpegs.set(key, bytes);
  return bytes;
}

async function* framesOf(list: Array<[number, string, number?, number?]>): AsyncGenerator<VideoFrame> {
  for (const [t, color, w = 1280, h = 720] of list) yield { t, width: w, height: h, jpeg: jpeg(color, w, h) };
}

/** Decodes every frame: ffmpeg exits non-zero on a file a player could not play. */
function playable(file: string): void {
  execFileSync(tools.ffmpeg, ['-v', 'error', '-xerror', '-i', file, '-f', 'null', '-'], { stdio: 'pipe' });
}

function codecOf(file: string): string {
  return execFileSync(tools.ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', file]).toString().trim();
}

describe('video export with ffmpeg', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'webasset-export-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('makes a playable WebM (VP9) whose duration is the recording\'s, each frame for its real time', async () => {
    const exporter = createRecordingExporter({ tools: () => tools });
    const out = join(dir, 'a.webm');
    const result = await exporter.exportVideo({
      // Uneven gaps, a resize, and a late first frame (the login's blank screen comes first).
      frames: framesOf([[1200, 'red'], [1700, 'green'], [9000, 'white', 800, 600], [9350, 'blue']]),
      durationMs: 12_345,
      format: 'webm',
      outPath: out,
    });
    expect(result).toMatchObject({ format: 'webm', codec: 'vp9', frames: 4, width: 1280, height: 720 });
    playable(out);
    expect(codecOf(out)).toBe('vp9');
    expect(Math.abs((await probeDurationMs(tools.ffprobe, out)) - 12_345)).toBeLessThan(1000);
    // Each frame starts at its own time: the presentation times of the encoded frames.
    const pts = execFileSync(tools.ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=pts_time', '-of', 'csv=p=0', out])
      .toString()
      .trim()
      .split('\n')
      .map((l) => Math.round(Number.parseFloat(l) * 1000));
    expect(pts.slice(0, 5)).toEqual([0, 1200, 1700, 9000, 9350]);
    // Nothing left beside the output: the frame folder and the partial file are gone.
    expect(readdirSync(dir).filter((n) => n.startsWith('.webasset-export-') || n.endsWith('.partial'))).toEqual([]);
  });

  it('makes a playable MP4 (H.264) of the same length', async () => {
    const exporter = createRecordingExporter({ tools: () => tools });
    const out = join(dir, 'b.mp4');
    const result = await exporter.exportVideo({ frames: framesOf([[0, 'red'], [500, 'green'], [4000, 'blue']]), durationMs: 6000, format: 'mp4', outPath: out });
    expect(result.codec).toBe('h264');
    playable(out);
    expect(codecOf(out)).toBe('h264');
    expect(Math.abs((await probeDurationMs(tools.ffprobe, out)) - 6000)).toBeLessThan(1000);
  });

  it('exports a recording without frames as black for its duration', async () => {
    const exporter = createRecordingExporter({ tools: () => tools });
    const out = join(dir, 'empty.webm');
    await exporter.exportVideo({ frames: framesOf([]), durationMs: 3000, format: 'webm', outPath: out });
    playable(out);
    expect(Math.abs((await probeDurationMs(tools.ffprobe, out)) - 3000)).toBeLessThan(1000);
  });

  it('runs one export at a time: the second waits until the first is done', async () => {
    const exporter = createRecordingExporter({ tools: () => tools });
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* slow(): AsyncGenerator<VideoFrame> {
      order.push('first:start');
      await gate;
      yield* framesOf([[0, 'red']]);
      order.push('first:frames-done');
    }
    async function* quick(): AsyncGenerator<VideoFrame> {
      order.push('second:start');
      yield* framesOf([[0, 'green']]);
    }
    const first = exporter.exportVideo({ frames: slow(), durationMs: 1000, format: 'webm', outPath: join(dir, 'q1.webm') });
    const second = exporter.exportVideo({ frames: quick(), durationMs: 1000, format: 'webm', outPath: join(dir, 'q2.webm') });
    expect(exporter.pending).toBe(2);
    // The first starts (slowly on a loaded machine), then the second must still wait while it is held.
    await expect.poll(() => order, { timeout: 10_000 }).toEqual(['first:start']);
    await new Promise((r) => setTimeout(r, 300));
    expect(order).toEqual(['first:start']);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['first:start', 'first:frames-done', 'second:start']);
    expect(exporter.pending).toBe(0);
  });

  it('refuses to overwrite a file, and leaves it as it was', async () => {
    const exporter = createRecordingExporter({ tools: () => tools });
    const out = join(dir, 'exists.webm');
    writeFileSync(out, 'mine');
    await expect(exporter.exportVideo({ frames: framesOf([[0, 'red']]), durationMs: 1000, format: 'webm', outPath: out })).rejects.toMatchObject({ code: 'invalid_request' });
    expect(readFileSync(out, 'utf8')).toBe('mine');
  });

  it('says ffmpeg_missing, naming apt-get install ffmpeg, when there is no ffmpeg', async () => {
    const missingPath = () => findFfmpeg({ pathEnv: join(dir, 'no-such-folder') });
    expect(missingPath).toThrow(AppError);
    for (const find of [missingPath, () => findFfmpeg({ configured: join(dir, 'nope', 'ffmpeg') })]) {
      try {
        find();
        expect.unreachable();
      } catch (error) {
        expect(error).toMatchObject({ code: 'ffmpeg_missing', status: 503 });
        expect((error as AppError).publicMessage).toContain('apt-get install ffmpeg');
      }
    }
    let installed = false;
    const exporter = createRecordingExporter({ tools: () => (installed ? tools : missingPath()) });
    const out = join(dir, 'never.webm');
    await expect(exporter.exportVideo({ frames: framesOf([[0, 'red']]), durationMs: 1000, format: 'webm', outPath: out })).rejects.toMatchObject({ code: 'ffmpeg_missing' });
    expect(existsSync(out)).toBe(false);
    // Installing ffmpeg later is enough (it is looked up per export), and a failed export does not block the queue.
    installed = true;
    await exporter.exportVideo({ frames: framesOf([[0, 'red']]), durationMs: 1000, format: 'webm', outPath: out });
    expect(existsSync(out)).toBe(true);
  });

  it('finds ffmpeg and ffprobe on the PATH, or beside FFMPEG_PATH', () => {
    expect(findFfmpeg({ pathEnv: process.env.PATH })).toEqual({ ffmpeg: tools.ffmpeg, ffprobe: tools.ffprobe });
    expect(findFfmpeg({ configured: tools.ffmpeg })).toEqual(tools);
  });
});

describe('video export of a recorded demo-portal session (real Chromium and ffmpeg)', () => {
  const shared = usePoolAndPortal();
  const fresh = useTestDatabase();

  it('is a playable WebM as long as the recording, audited, with no secret in any byte', async () => {
    const s = await buildStack(fresh, shared.pool, shared.portalUrl, { asset: { successCheck: { selector: '#balance' } } });
    fresh.defer(() => s.close());
    const alice = await s.operator('alice');
    const session = await s.sessions.start(alice, 'bank');
    const attached = await s.sessions.attach(session.id, alice, 'control');
    const detach = attached.onEnd(() => undefined);
    await attached.browser.navigate(`${shared.portalUrl}/transfer`);
    await eventually(async () => attached.browser.tabs().some((t) => t.active && t.url.endsWith('/transfer')), 10_000, 'the transfer page');
    await new Promise((r) => setTimeout(r, 1500));
    await attached.browser.navigate(`${shared.portalUrl}/accounts`);
    await new Promise((r) => setTimeout(r, 1500));
    detach();
    await s.sessions.end(session.id, alice);
    const [recording] = (await s.recordings.list({})).items;
    expect(recording).toMatchObject({ state: 'sealed', complete: true });
    expect(recording!.frames).toBeGreaterThanOrEqual(2);

    const out = join(fresh.db.dataDir, 'session.webm');
    const exporter = createRecordingExporter({ tools: () => tools });
    const actor = { kind: 'user' as const, id: 'os:auditor@host', name: 'auditor (cli)' };
    const result = await exportRecording({ recordings: s.recordings, trail: s.trail, exporter }, { id: recording!.id, format: 'webm', outPath: out, actor });
    expect(result.frames).toBe(recording!.frames);
    playable(out);
    expect(Math.abs((await probeDurationMs(tools.ffprobe, out)) - recording!.durationMs)).toBeLessThan(1000);
    const bytes = readFileSync(out);
    for (const canary of [CANARY_PASSWORD, CANARY_USERNAME]) expect(bytes.includes(Buffer.from(canary))).toBe(false);
    const audited = await s.auditRows({ action: 'recording.exported', target: recording!.id });
    expect(audited).toEqual([expect.objectContaining({ actor_id: actor.id, outcome: 'success', details: expect.objectContaining({ session: session.id, format: 'webm', codec: 'vp9' }) })]);
  });
});
