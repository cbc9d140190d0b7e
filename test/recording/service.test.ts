import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeChunk } from '../../src/recording/index.js';
import { useTestDatabase } from '../support/databases.js';
import { ASSET, fakeJpeg, recordingStack, sessionId, USER } from './service-support.js';

const CANARY_PASSWORD = 'Canary-Pa55word-7f3a';
const CANARY_TOTP_SEED = 'JBSWY3DPEHPK3PXPCANARY';

describe('recordings service', () => {
  const fresh = useTestDatabase();

  it('records frames and events, seals with a signed manifest whose SHA-256 is in recording.sealed', async () => {
    const s = await recordingStack(fresh, { maxChunkBytes: 1024 });
    const session = sessionId();
    const rec = await s.recordings.begin({ sessionId: session, assetId: ASSET, userId: USER, retentionDays: 30 });
    expect((await s.recordings.get(rec.recordingId))?.state).toBe('recording');
    rec.event({ type: 'state', state: 'active' });
    for (let i = 0; i < 40; i++) {
      s.clock.advance(500);
      rec.frame(fakeJpeg(i), 1280, 720);
      if (i % 10 === 0) rec.event({ type: 'navigated', tabId: 't1', url: `https://bank.example/page/${i}`, title: `Page ${i}` });
    }
    rec.event({ type: 'click', x: 10, y: 20, button: 'left', target: 'button "Transfer"' });
    s.clock.advance(1000);
    const result = await rec.seal({ complete: true });

    expect(result).toMatchObject({ recordingId: rec.recordingId, complete: true, incompleteReason: null, durationMs: 21_000 });
    expect(result.chunks).toBeGreaterThan(1);
    const manifestBytes = readFileSync(join(s.dir, rec.recordingId, 'manifest.json'));
    expect(result.manifestSha256).toBe(createHash('sha256').update(manifestBytes).digest('hex'));
    const manifest = JSON.parse(manifestBytes.toString()) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      type: 'webasset.recording.manifest.v1',
      recordingId: rec.recordingId,
      sessionId: session,
      assetId: ASSET,
      userId: USER,
      nodeId: 'node-a',
      complete: true,
      incompleteReason: null,
      durationMs: 21_000,
      keyId: s.signer.keyId,
    });
    expect((manifest.chunks as unknown[]).length).toBe(result.chunks);
    expect(readdirSync(join(s.dir, rec.recordingId)).filter((n) => !n.startsWith('chunk-'))).toEqual(['manifest.json']);

    const summary = await s.recordings.get(rec.recordingId);
    expect(summary).toMatchObject({ state: 'sealed', complete: true, frames: 40, events: 6, chunks: result.chunks, manifestSha256: result.manifestSha256, legalHold: false, retentionDays: 30 });
    expect(summary!.bytes).toBe(result.bytes);

    const events = await s.auditEvents();
    expect(events.map((e) => e.action)).toEqual(['recording.started', 'recording.sealed']);
    expect(events[0]).toMatchObject({ targetId: rec.recordingId, details: { session, assetId: ASSET, userId: USER, retentionDays: 30 } });
    expect(events[1]!.details).toMatchObject({ session, assetId: ASSET, complete: true, chunks: result.chunks, bytes: result.bytes, durationMs: 21_000, manifestSha256: result.manifestSha256 });

    const track = await s.recordings.events(rec.recordingId);
    expect(track[0]).toEqual({ t: 0, type: 'state', state: 'active' });
    expect(track.at(-1)).toEqual({ t: 20_000, type: 'click', x: 10, y: 20, button: 'left', target: 'button "Transfer"' });
    expect((await s.recordings.verify(rec.recordingId)).ok).toBe(true);
    // A second seal answers the first result and writes nothing new.
    expect(await rec.seal({ complete: false, incompleteReason: 'x' })).toEqual(result);
  });

  it('seals many recordings ending together: every chunk has its row (the last one written by the seal), each sealed event has its manifest', async () => {
    const s = await recordingStack(fresh, { maxChunkBytes: 1024 });
    const recs = await Promise.all(Array.from({ length: 20 }, () => s.recordings.begin({ sessionId: sessionId(), assetId: ASSET, userId: USER, retentionDays: 30 })));
    for (let i = 0; i < 5; i++) {
      s.clock.advance(500);
      recs.forEach((rec, k) => rec.frame(fakeJpeg(k * 100 + i, 600), 1280, 720));
    }
    recs.forEach((rec) => rec.event({ type: 'navigated', tabId: 't1', url: 'https://bank.example/last', title: 'Last page' }));
    const results = await Promise.all(recs.map((rec) => rec.seal({ complete: true })));

    const sealed = await s.auditEvents('recording.sealed');
    expect(sealed).toHaveLength(20);
    for (const result of results) {
      const manifest = JSON.parse(readFileSync(join(s.dir, result.recordingId, 'manifest.json')).toString()) as { chunks: Array<{ seq: number; sha256: string }> };
      const rows = await s.db.selectFrom('recording_chunks').select(['seq', 'sha256']).where('recording_id', '=', result.recordingId).orderBy('seq').execute();
      expect(rows).toEqual(manifest.chunks.map((c) => ({ seq: c.seq, sha256: c.sha256 })));
      expect(result.chunks).toBe(3);
      expect(await s.recordings.get(result.recordingId)).toMatchObject({ state: 'sealed', chunks: 3, frames: 5, events: 1, bytes: result.bytes });
      expect(sealed.find((e) => e.targetId === result.recordingId)?.details).toMatchObject({ manifestSha256: result.manifestSha256 });
    }
    // The last chunk's event is searchable although its row came with the seal.
    expect((await s.recordings.list({ text: 'Last page' })).items).toHaveLength(20);
    expect((await s.recordings.verify(results[7]!.recordingId)).ok).toBe(true);
  });

  it('skips byte-identical consecutive frames', async () => {
    const s = await recordingStack(fresh);
    const rec = await s.recordings.begin({ sessionId: sessionId(), assetId: ASSET, userId: USER, retentionDays: 30 });
    for (const n of [1, 1, 1, 2, 2, 1, 1]) {
      s.clock.advance(500);
      rec.frame(fakeJpeg(n), 800, 600);
    }
    await rec.seal({ complete: true });
    const frames = [];
    for await (const f of s.recordings.frames(rec.recordingId, 0)) frames.push(f.jpeg.readUInt32BE(2));
    expect(frames).toEqual([1, 2, 1]);
  });

  it('writes a chunk at least every flushIntervalMs while recording', async () => {
    const s = await recordingStack(fresh, { flushIntervalMs: 50 });
    const rec = await s.recordings.begin({ sessionId: sessionId(), assetId: ASSET, userId: USER, retentionDays: 30 });
    rec.frame(fakeJpeg(1), 10, 10);
    await expect.poll(async () => (await s.recordings.get(rec.recordingId))?.chunks, { timeout: 5_000 }).toBe(1);
    rec.event({ type: 'tool', tool: 'click', summary: 'clicked Transfer' });
    await expect.poll(async () => (await s.recordings.get(rec.recordingId))?.chunks, { timeout: 5_000 }).toBe(2);
    // Readable while still recording.
    expect(await s.recordings.events(rec.recordingId)).toEqual([{ t: 0, type: 'tool', tool: 'click', summary: 'clicked Transfer' }]);
    await rec.seal({ complete: true });
  });

  it('keeps no text of a password field, and the canaries reach no chunk, manifest, search text or audit detail', async () => {
    const s = await recordingStack(fresh);
    const rec = await s.recordings.begin({ sessionId: sessionId(), assetId: ASSET, userId: USER, retentionDays: 30 });
    rec.event({ type: 'keys', target: 'input[name=password]', field: 'password', count: CANARY_PASSWORD.length, text: CANARY_PASSWORD } as never);
    rec.event({ type: 'keys', target: 'input[name=otp]', field: 'password', count: 6, text: CANARY_TOTP_SEED } as never);
    rec.event({ type: 'keys', target: 'input[name=amount]', field: 'text', count: 3, text: '100' });
    const sealed = await rec.seal({ complete: true });
    const track = await s.recordings.events(rec.recordingId);
    expect(track).toEqual([
      { t: 0, type: 'keys', target: 'input[name=password]', field: 'password', count: CANARY_PASSWORD.length },
      { t: 0, type: 'keys', target: 'input[name=otp]', field: 'password', count: 6 },
      { t: 0, type: 'keys', target: 'input[name=amount]', field: 'text', count: 3, text: '100' },
    ]);
    const folder = join(s.dir, rec.recordingId);
    const everything = [
      ...readdirSync(folder).map((n) => readFileSync(join(folder, n))),
      Buffer.from((await s.auditEvents()).map((e) => e.raw).join('\n')),
      Buffer.from((await s.db.selectFrom('recordings').select('search_text').executeTakeFirstOrThrow()).search_text),
    ];
    for (const bytes of everything) {
      expect(bytes.includes(CANARY_PASSWORD)).toBe(false);
      expect(bytes.includes(CANARY_TOTP_SEED)).toBe(false);
    }
    expect(sealed.chunks).toBe(1);
    expect(decodeChunk(readFileSync(join(folder, 'chunk-000001.war')))).toHaveLength(3);
  });

  it('caps long event text so one event cannot swell a chunk', async () => {
    const s = await recordingStack(fresh);
    const rec = await s.recordings.begin({ sessionId: sessionId(), assetId: ASSET, userId: USER, retentionDays: 30 });
    rec.event({ type: 'navigated', tabId: 't', url: `data:text/html,${'a'.repeat(100_000)}`, title: 'x' });
    rec.event({ type: 'upload', fileNames: Array.from({ length: 500 }, (_, i) => `f${i}.pdf`) });
    await rec.seal({ complete: true });
    const [nav, upload] = await s.recordings.events(rec.recordingId);
    expect(nav).toMatchObject({ type: 'navigated', title: 'x' });
    expect((nav as { url: string }).url).toHaveLength(4097);
    expect((upload as { fileNames: string[] }).fileNames).toHaveLength(100);
  });

  it('lists with filters, text search, visibility and cursor paging; newest first', async () => {
    const s = await recordingStack(fresh);
    const made: Array<{ id: string; assetId: string; userId: string }> = [];
    for (let i = 0; i < 5; i++) {
      const assetId = i % 2 === 0 ? 'bank' : 'loans';
      const userId = i < 3 ? 'alice' : 'bob';
      const rec = await s.recordings.begin({ sessionId: sessionId(), assetId, userId, retentionDays: 30 });
      rec.event({ type: 'navigated', tabId: 't', url: `https://${assetId}.example/statement_${i}`, title: i === 3 ? 'Wire 100% Transfer' : `Home ${i}` });
      s.clock.advance(60_000);
      await rec.seal({ complete: true });
      made.push({ id: rec.recordingId, assetId, userId });
      s.clock.advance(60_000);
    }
    const ids = (page: { items: Array<{ id: string }> }) => page.items.map((r) => r.id);
    const newestFirst = [...made].reverse().map((r) => r.id);
    expect(ids(await s.recordings.list({}))).toEqual(newestFirst);
    expect(ids(await s.recordings.list({ assetId: 'loans' }))).toEqual([made[3]!.id, made[1]!.id]);
    expect(ids(await s.recordings.list({ userId: 'bob' }))).toEqual([made[4]!.id, made[3]!.id]);
    expect(ids(await s.recordings.list({ text: 'WIRE 100%' }))).toEqual([made[3]!.id]);
    expect(ids(await s.recordings.list({ text: 'statement_2' }))).toEqual([made[2]!.id]);
    // LIKE wildcards are literal: `_` does not match any character.
    expect(ids(await s.recordings.list({ text: 'statement%' }))).toEqual([]);
    expect(ids(await s.recordings.list({ assetIds: ['loans'] }))).toEqual([made[3]!.id, made[1]!.id]);
    expect(ids(await s.recordings.list({ assetIds: [] }))).toEqual([]);
    const start = Date.UTC(2026, 0, 5, 9, 0, 0);
    // Recording i runs from start + 2i min to start + (2i + 1) min.
    expect(ids(await s.recordings.list({ from: start + 4.5 * 60_000, to: start + 6.5 * 60_000 }))).toEqual([made[3]!.id, made[2]!.id]);

    const first = await s.recordings.list({ limit: 2 });
    expect(ids(first)).toEqual(newestFirst.slice(0, 2));
    const second = await s.recordings.list({ limit: 2, cursor: first.nextCursor! });
    expect(ids(second)).toEqual(newestFirst.slice(2, 4));
    const third = await s.recordings.list({ limit: 2, cursor: second.nextCursor! });
    expect(ids(third)).toEqual(newestFirst.slice(4));
    expect(third.nextCursor).toBeNull();

    await expect(s.recordings.list({ cursor: 'garbage' })).rejects.toMatchObject({ code: 'invalid_cursor' });
    await expect(s.recordings.list({ limit: 201 })).rejects.toMatchObject({ code: 'page_size_too_large' });
    await expect(s.recordings.list({ limit: 0 })).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('refuses malformed and traversal ids without touching a path (null or not_found)', async () => {
    const s = await recordingStack(fresh);
    const actor = { kind: 'user' as const, id: 'admin-1' };
    for (const bad of ['../../etc/passwd', '..', '', 'not-a-uuid', `${sessionId()}/..`]) {
      expect(await s.recordings.get(bad)).toBeNull();
      expect(await s.recordings.manifest(bad)).toBeNull();
      expect(await s.recordings.chunk(bad, 1)).toBeNull();
      await expect(s.recordings.events(bad)).rejects.toMatchObject({ code: 'not_found' });
      await expect(s.recordings.verify(bad)).rejects.toMatchObject({ code: 'not_found' });
      await expect(s.recordings.delete(bad, actor, 'why')).rejects.toMatchObject({ code: 'not_found' });
      await expect(s.recordings.setLegalHold(bad, true, actor, 'why')).rejects.toMatchObject({ code: 'not_found' });
      const frames = s.recordings.frames(bad, 0)[Symbol.asyncIterator]();
      await expect(frames.next()).rejects.toMatchObject({ code: 'not_found' });
    }
    // A well-formed id that does not exist reads the same.
    expect(await s.recordings.get(sessionId())).toBeNull();
    await expect(s.recordings.events(sessionId())).rejects.toMatchObject({ code: 'not_found' });
  });

  it('checks what begin is given', async () => {
    const s = await recordingStack(fresh);
    for (const info of [
      { sessionId: 'x', assetId: ASSET, userId: USER, retentionDays: 30 },
      { sessionId: sessionId(), assetId: '', userId: USER, retentionDays: 30 },
      { sessionId: sessionId(), assetId: ASSET, userId: USER, retentionDays: 0 },
      { sessionId: sessionId(), assetId: ASSET, userId: USER, retentionDays: 36_501 },
    ]) {
      await expect(s.recordings.begin(info)).rejects.toMatchObject({ code: 'invalid_request' });
    }
    const session = sessionId();
    const rec = await s.recordings.begin({ sessionId: session, assetId: ASSET, userId: USER, retentionDays: 30 });
    await expect(s.recordings.begin({ sessionId: session, assetId: ASSET, userId: USER, retentionDays: 30 })).rejects.toMatchObject({ code: 'conflict' });
    await rec.seal({ complete: true });
  });
});
