import { describe, expect, it } from 'vitest';
import type { AppError } from '../../src/core/index.js';
import { encodeChunk, type RecordingStorage } from '../../src/recording/index.js';
import { useTestDatabase } from '../support/databases.js';
import { ASSET, failingStorage, fakeJpeg, recordingStack, sessionId, USER } from './service-support.js';

const begin = (s: Awaited<ReturnType<typeof recordingStack>>) => s.recordings.begin({ sessionId: sessionId(), assetId: ASSET, userId: USER, retentionDays: 30 });

describe('recorder', () => {
  const fresh = useTestDatabase();

  it('reports a failed chunk write once through onFailure, never throws, audits recording.failed and seals incomplete', async () => {
    let fail!: ReturnType<typeof failingStorage>;
    const s = await recordingStack(fresh, {
      maxChunkBytes: 1024,
      storage: (files) => (fail = failingStorage(files, { chunks: true })).storage,
    });
    const rec = await begin(s);
    const seen: AppError[] = [];
    const second: AppError[] = [];
    rec.onFailure((e) => seen.push(e));
    rec.onFailure((e) => second.push(e));
    rec.frame(fakeJpeg(1, 2000), 100, 100); // one full chunk, written fine
    await expect.poll(async () => (await s.recordings.get(rec.recordingId))?.chunks).toBe(1);
    fail.state.failing = true;
    for (let i = 2; i < 10; i++) {
      s.clock.advance(500);
      expect(() => rec.frame(fakeJpeg(i, 2000), 100, 100)).not.toThrow();
      expect(() => rec.event({ type: 'tool', tool: 't', summary: 's' })).not.toThrow();
    }
    await expect.poll(() => seen.length).toBe(1);
    expect(seen[0]).toMatchObject({ code: 'recording_unavailable', status: 503 });
    expect(second).toHaveLength(1);
    // Nothing more is attempted after the first failure.
    const writes = fail.state.writes;
    rec.frame(fakeJpeg(99, 2000), 100, 100);
    // A listener added after the failure hears of it at once.
    const late: AppError[] = [];
    rec.onFailure((e) => late.push(e));
    await expect.poll(() => late.length).toBe(1);

    const sealed = await rec.seal({ complete: true });
    expect(fail.state.writes).toBe(writes);
    expect(seen).toHaveLength(1);
    expect(sealed).toMatchObject({ complete: false, incompleteReason: 'storage_failed', chunks: 1 });
    expect((await s.recordings.verify(rec.recordingId)).ok).toBe(true);
    const failed = await s.auditEvents('recording.failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ outcome: 'failure', targetId: rec.recordingId, details: { seq: 2, reason: 'storage_error' } });
    expect(failed[0]!.raw).not.toContain('ENOSPC');
  });

  it('begin refuses with recording_unavailable when storage cannot be written, audited', async () => {
    let fail!: ReturnType<typeof failingStorage>;
    const s = await recordingStack(fresh, { storage: (files) => (fail = failingStorage(files, { create: true })).storage });
    fail.state.failing = true;
    await expect(begin(s)).rejects.toMatchObject({ code: 'recording_unavailable', status: 503 });
    expect(await s.db.selectFrom('recordings').selectAll().execute()).toEqual([]);
    expect((await s.auditEvents()).map((e) => [e.action, e.outcome])).toEqual([['recording.failed', 'failure']]);
  });

  it('seal rejects with recording_unavailable when the manifest cannot be written; recover seals it later', async () => {
    let fail!: ReturnType<typeof failingStorage>;
    const s = await recordingStack(fresh, { storage: (files) => (fail = failingStorage(files, { manifest: true })).storage });
    const rec = await begin(s);
    rec.frame(fakeJpeg(1), 10, 10);
    fail.state.failing = true;
    await expect(rec.seal({ complete: true })).rejects.toMatchObject({ code: 'recording_unavailable' });
    expect((await s.recordings.get(rec.recordingId))?.state).toBe('recording');
    fail.state.failing = false;
    expect(await s.restart().recover()).toBe(1);
    expect(await s.recordings.get(rec.recordingId)).toMatchObject({ state: 'sealed', complete: false, incompleteReason: 'node_restart', chunks: 1 });
  });

  it('seeks to any point of a one-hour recording at 0.5 fps: the first frame is the last at or before the time, read from the chunk that holds it', async () => {
    // Counts chunk reads, so the test proves a seek starts at the right chunk (how fast that is: bench/recording).
    let chunkReads = 0;
    const counting = (files: RecordingStorage): RecordingStorage => ({
      ...files,
      readChunk: (id, seq) => {
        chunkReads += 1;
        return files.readChunk(id, seq);
      },
    });
    const s = await recordingStack(fresh, { maxChunkBytes: 16 * 1024, storage: counting });
    const rec = await begin(s);
    const FRAMES = 1800; // one hour, a frame every 2 s
    for (let i = 0; i < FRAMES; i++) {
      rec.frame(fakeJpeg(i, 900), 1280, 720);
      if (i % 97 === 0) rec.event({ type: 'navigated', tabId: 't', url: `https://bank.example/${i}`, title: `p${i}` });
      s.clock.advance(2000);
    }
    const sealed = await rec.seal({ complete: true });
    expect(sealed.chunks).toBeGreaterThanOrEqual(100);
    expect(sealed.durationMs).toBe(3_600_000);

    const probe = async (fromMs: number, take: number) => {
      chunkReads = 0;
      const got: Array<{ n: number; t: number }> = [];
      for await (const f of s.recordings.frames(rec.recordingId, fromMs)) {
        got.push({ n: f.jpeg.readUInt32BE(2), t: f.t });
        expect(f).toMatchObject({ width: 1280, height: 720 });
        if (got.length === take) break;
      }
      return { got, reads: chunkReads };
    };
    for (const fromMs of [0, 1, 1999, 2000, 2001, 1_234_567, 1_800_000, 3_333_333, 3_597_999, 3_598_000, 3_599_999, 9_999_999]) {
      const expected = Math.min(Math.floor(fromMs / 2000), FRAMES - 1);
      const { got, reads } = await probe(fromMs, 3);
      expect(got[0], `seek to ${fromMs}`).toEqual({ n: expected, t: expected * 2000 });
      expect(got.map((g) => g.n)).toEqual([expected, expected + 1, expected + 2].filter((n) => n < FRAMES));
      // Three frames span at most two chunks of 16 KiB: nothing before the time is read.
      expect(reads, `chunks read for a seek to ${fromMs}`).toBeLessThanOrEqual(2);
    }
  });

  it('recovers after a crash: an abandoned recorder with a chunk file on disk whose row was never written', async () => {
    const s = await recordingStack(fresh, { maxChunkBytes: 1024 });
    const rec = await begin(s);
    rec.event({ type: 'navigated', tabId: 't', url: 'https://bank.example/home', title: 'Home' });
    rec.frame(fakeJpeg(1, 2000), 100, 100);
    await expect.poll(async () => (await s.recordings.get(rec.recordingId))?.chunks).toBe(1);
    // The crash: chunk 2 was renamed into place, the process died before its row.
    await s.storage.writeChunk(
      rec.recordingId,
      2,
      encodeChunk([
        { kind: 'frame', t: 4000, width: 100, height: 100, jpeg: fakeJpeg(2) },
        { kind: 'event', t: 4500, event: { t: 4500, type: 'navigated', tabId: 't', url: 'https://bank.example/transfer', title: 'Überweisung' } },
      ]),
    );
    // Another node's unsealed recording is not ours to seal.
    const other = await s.restart({ nodeId: 'node-b' }).begin({ sessionId: sessionId(), assetId: ASSET, userId: USER, retentionDays: 30 });

    const restarted = s.restart();
    expect(await restarted.recover()).toBe(1);
    const summary = await restarted.get(rec.recordingId);
    expect(summary).toMatchObject({ state: 'sealed', complete: false, incompleteReason: 'node_restart', chunks: 2, frames: 2, events: 2, durationMs: 4500 });
    const report = await restarted.verify(rec.recordingId);
    expect(report).toMatchObject({ ok: true, complete: false, problems: [] });
    expect(report.chunks.map((c) => c.seq)).toEqual([1, 2]);
    expect((await restarted.events(rec.recordingId)).map((e) => e.type === 'navigated' && e.title)).toEqual(['Home', 'Überweisung']);
    expect((await restarted.list({ text: 'überweisung' })).items.map((r) => r.id)).toEqual([rec.recordingId]);
    expect((await restarted.get(other.recordingId))?.state).toBe('recording');
    const sealedEvents = await s.auditEvents('recording.sealed');
    expect(sealedEvents.at(-1)!.details).toMatchObject({ complete: false, incompleteReason: 'node_restart', chunks: 2 });
    expect(await restarted.recover()).toBe(0);
  });
});
