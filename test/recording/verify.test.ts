import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/index.js';
import { createDocumentSigner } from '../../src/audit/index.js';
import { useTestDatabase } from '../support/databases.js';
import { ASSET, fakeJpeg, recordingStack, sessionId, USER } from './service-support.js';

const OTHER_KEY = Buffer.alloc(32, 9).toString('base64');

async function sealedRecording(fresh: ReturnType<typeof useTestDatabase>) {
  const s = await recordingStack(fresh, { maxChunkBytes: 1024 });
  const rec = await s.recordings.begin({ sessionId: sessionId(), assetId: ASSET, userId: USER, retentionDays: 30 });
  for (let i = 0; i < 3; i++) {
    s.clock.advance(1000);
    rec.frame(fakeJpeg(i, 1500), 100, 100);
  }
  const sealed = await rec.seal({ complete: true });
  expect(sealed.chunks).toBe(3);
  const folder = join(s.dir, rec.recordingId);
  return { s, id: rec.recordingId, folder, chunk: (seq: number) => join(folder, `chunk-00000${seq}.war`), manifest: join(folder, 'manifest.json') };
}

describe('verify', () => {
  const fresh = useTestDatabase();

  it('passes for an untouched recording and reports the key id', async () => {
    const { s, id } = await sealedRecording(fresh);
    const report = await s.recordings.verify(id);
    expect(report).toEqual({
      ok: true,
      recordingId: id,
      complete: true,
      keyId: s.signer.keyId,
      chunks: [1, 2, 3].map((seq) => ({ seq, ok: true })),
      problems: [],
    });
  });

  it('names the chunk where one byte changed', async () => {
    const { s, id, chunk } = await sealedRecording(fresh);
    const bytes = readFileSync(chunk(2));
    bytes[bytes.length - 10]! ^= 0x01;
    writeFileSync(chunk(2), bytes);
    const report = await s.recordings.verify(id);
    expect(report.ok).toBe(false);
    expect(report.chunks[1]).toEqual({ seq: 2, ok: false, problem: 'changed: its SHA-256 differs from the manifest' });
    expect(report.problems).toEqual(['chunk 2 has changed: its SHA-256 differs from the manifest']);
    // Replay refuses the altered chunk rather than showing it.
    const frames = s.recordings.frames(id, 2500)[Symbol.asyncIterator]();
    await expect(frames.next()).rejects.toMatchObject({ code: 'internal', publicMessage: expect.stringMatching(/Chunk 2 .*verify/) });
  });

  it('fails when the last chunk is removed', async () => {
    const { s, id, chunk } = await sealedRecording(fresh);
    rmSync(chunk(3));
    const report = await s.recordings.verify(id);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual(['chunk 3 is missing']);
    expect(report.chunks[2]).toEqual({ seq: 3, ok: false, problem: 'missing' });
  });

  it('fails for a manifest signed by another key (even listing the right hashes)', async () => {
    const { s, id, manifest } = await sealedRecording(fresh);
    const { keyId: _k, signature: _s, type, ...fields } = JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, unknown>;
    const forged = createDocumentSigner(OTHER_KEY).sign(type as string, fields);
    writeFileSync(manifest, canonicalJson(forged));
    const report = await s.recordings.verify(id);
    expect(report.ok).toBe(false);
    expect(report.keyId).toBe(forged.keyId);
    expect(report.problems).toContain(`manifest.json is signed by key ${forged.keyId}, which is not a configured signing key`);
    expect(report.problems).toContain('manifest.json is not the manifest recorded in the audit trail at seal (its SHA-256 differs)');
  });

  it('fails for an edited manifest (a chunk dropped from its list, or the duration changed)', async () => {
    const { s, id, manifest, chunk } = await sealedRecording(fresh);
    const original = readFileSync(manifest, 'utf8');
    const doc = JSON.parse(original) as { chunks: unknown[]; durationMs: number };
    writeFileSync(manifest, JSON.stringify({ ...doc, durationMs: doc.durationMs + 1 }));
    expect((await s.recordings.verify(id)).problems).toContain('manifest.json signature does not match its content: the manifest was edited');
    rmSync(chunk(3));
    writeFileSync(manifest, JSON.stringify({ ...doc, chunks: doc.chunks.slice(0, 2) }));
    const report = await s.recordings.verify(id);
    expect(report.ok).toBe(false);
    expect(report.problems).toContain('manifest.json signature does not match its content: the manifest was edited');
    expect(report.problems).toContain('chunk 3 was written but the manifest does not list it');
    writeFileSync(manifest, 'not json');
    expect((await s.recordings.verify(id)).problems).toEqual(['manifest.json is not valid JSON']);
  });

  it('reports a recording that is not sealed yet', async () => {
    const s = await recordingStack(fresh);
    const rec = await s.recordings.begin({ sessionId: sessionId(), assetId: ASSET, userId: USER, retentionDays: 30 });
    const report = await s.recordings.verify(rec.recordingId);
    expect(report).toMatchObject({ ok: false, complete: false, keyId: null, problems: ['manifest.json is missing: the recording is not sealed'] });
    await rec.seal({ complete: true });
  });

  it('verifies an evidence bundle (<dir>/recording/ + public-key.txt) and names what was changed in it', async () => {
    const { s, id, folder } = await sealedRecording(fresh);
    const bundle = join(fresh.db.dataDir, 'bundle');
    mkdirSync(bundle);
    cpSync(folder, join(bundle, 'recording'), { recursive: true });
    writeFileSync(join(bundle, 'public-key.txt'), `# Ed25519 public key\n${s.signer.publicKey}\n`);
    expect(await s.recordings.verifyBundle(bundle)).toMatchObject({ ok: true, recordingId: id, complete: true, keyId: s.signer.keyId, problems: [] });

    writeFileSync(join(bundle, 'public-key.txt'), `${createDocumentSigner(OTHER_KEY).publicKey}\n`);
    expect((await s.recordings.verifyBundle(bundle)).problems).toEqual([expect.stringMatching(/^public-key.txt holds key [0-9a-f]{16}, not the key/)]);
    writeFileSync(join(bundle, 'public-key.txt'), `${s.signer.publicKey}\n`);

    const chunk1 = join(bundle, 'recording', 'chunk-000001.war');
    const bytes = readFileSync(chunk1);
    bytes[20]! ^= 0xff;
    writeFileSync(chunk1, bytes);
    rmSync(join(bundle, 'recording', 'chunk-000003.war'));
    const report = await s.recordings.verifyBundle(bundle);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual(['chunk 1 has changed: its SHA-256 differs from the manifest', 'chunk 3 is missing']);

    expect((await s.recordings.verifyBundle(join(fresh.db.dataDir, 'nowhere'))).problems).toEqual(['manifest.json is missing: the recording is not sealed']);
  });
});
