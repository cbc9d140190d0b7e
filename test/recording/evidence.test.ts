import { cpSync, existsSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/app.js';
import { createDocumentSigner, verifyExportFile, createCheckpointVerifier } from '../../src/audit/index.js';
import { canonicalJson } from '../../src/core/index.js';
import { describeEvidenceReport, verifyEvidence, verifyStoredRecording, writeEvidence, type EvidenceDeps } from '../../src/recording/index.js';
import { CANARIES, deployment, makeRecording, type MadeRecording, type RecordedDeployment } from './cli-fixture.js';

const actor = { kind: 'user' as const, id: 'os:auditor@host', name: 'auditor (cli)' };

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('evidence bundles (webasset recording evidence / verify)', () => {
  let env: RecordedDeployment;
  let services: Services;
  let recording: MadeRecording;
  let deps: EvidenceDeps;
  let bundle: string;

  beforeAll(async () => {
    env = await deployment();
    services = await env.open();
    recording = await makeRecording(services, { frames: 4 });
    deps = {
      recordings: services.recordings,
      reader: services.audit.reader,
      trail: services.audit.trail,
      publicKeys: [services.audit.signer.publicKey],
      clock: services.clock,
    };
    bundle = join(env.dir, 'bundle');
  });
  afterAll(async () => {
    await services?.close();
    await env?.cleanup();
  });

  /** A copy of the bundle to spoil. */
  function copy(name: string): string {
    const to = join(env.dir, name);
    cpSync(bundle, to, { recursive: true });
    return to;
  }

  it('writes a bundle that verifies: chunks, signed manifest, the session\'s audit events, public key, report', async () => {
    expect(recording.chunks).toBeGreaterThanOrEqual(3);
    const report = await writeEvidence(deps, { id: recording.id, outDir: bundle, actor });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    const names = readdirSync(join(bundle, 'recording')).sort();
    expect(names).toContain('manifest.json');
    expect(names.filter((n) => n.endsWith('.war'))).toHaveLength(recording.chunks);
    for (const file of ['audit-events.ndjson', 'public-key.txt', 'verification.txt']) expect(existsSync(join(bundle, file)), file).toBe(true);
    expect(readFileSync(join(bundle, 'public-key.txt'), 'utf8')).toContain(services.audit.signer.publicKey);
    expect(readFileSync(join(bundle, 'verification.txt'), 'utf8')).toMatch(new RegExp(`^recording ${recording.id}: OK`));

    // The audit events: the session's, the seal (vouching for this manifest) and this export itself, with their hashes.
    const lines = readFileSync(join(bundle, 'audit-events.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const events = lines.filter((l) => l.type === 'event');
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['browser_session.started', 'recording.started', 'recording.sealed', 'recording.exported']));
    for (const e of events) expect(e).toEqual(expect.objectContaining({ seq: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/), prevHash: expect.stringMatching(/^[0-9a-f]{64}$/) }));
    expect(report.sealedEvent).toMatchObject({ matches: true });
    // The file is an audit export as `webasset audit verify --file` reads it.
    const checked = await verifyExportFile(join(bundle, 'audit-events.ndjson'), () => createCheckpointVerifier([services.audit.signer.publicKey]));
    expect(checked.ok).toBe(true);

    // Again, from the folder alone.
    const again = await verifyEvidence(deps, bundle);
    expect(again.ok).toBe(true);
  });

  it('never holds the demo portal password or TOTP seed, in any byte', () => {
    for (const file of filesUnder(bundle)) {
      const bytes = readFileSync(file);
      for (const canary of CANARIES) expect(bytes.includes(Buffer.from(canary)), `${file} holds a canary`).toBe(false);
    }
  });

  it('refuses a folder that is not empty, and an unknown id, without writing', async () => {
    await expect(writeEvidence(deps, { id: recording.id, outDir: bundle, actor })).rejects.toMatchObject({ code: 'invalid_request' });
    const other = join(env.dir, 'unknown');
    await expect(writeEvidence(deps, { id: '4f1c1d3e-8a6b-4c2d-9e0f-1a2b3c4d5e6f', outDir: other, actor })).rejects.toMatchObject({ code: 'not_found' });
    await expect(writeEvidence(deps, { id: '../../etc', outDir: other, actor })).rejects.toMatchObject({ code: 'not_found' });
    expect(existsSync(other)).toBe(false);
  });

  it('fails when one byte of a chunk changed, naming the chunk', async () => {
    const dir = copy('one-byte');
    const chunk = join(dir, 'recording', 'chunk-000002.war');
    const bytes = readFileSync(chunk);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0x01;
    writeFileSync(chunk, bytes);
    const report = await verifyEvidence(deps, dir);
    expect(report.ok).toBe(false);
    expect(report.recording.chunks.find((c) => c.seq === 2)).toMatchObject({ ok: false });
    expect(report.recording.chunks.filter((c) => !c.ok).map((c) => c.seq)).toEqual([2]);
    expect(describeEvidenceReport(report)).toContain('first failing chunk: chunk-000002.war');
  });

  it('fails when the last chunk was removed', async () => {
    const dir = copy('no-last');
    unlinkSync(join(dir, 'recording', `chunk-${String(recording.chunks).padStart(6, '0')}.war`));
    const report = await verifyEvidence(deps, dir);
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toContain(`chunk ${recording.chunks} is missing`);
  });

  it('fails when the manifest was signed by another key (and the trail vouches for another manifest)', async () => {
    const dir = copy('other-key');
    const path = join(dir, 'recording', 'manifest.json');
    const { type, keyId: _keyId, signature: _signature, ...fields } = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown> & { type: string };
    const forged = createDocumentSigner(Buffer.alloc(32, 99).toString('base64')).sign(type, fields);
    writeFileSync(path, canonicalJson(forged));
    const report = await verifyEvidence(deps, dir);
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(/not a configured signing key/);
    // The audit trail vouches for the manifest that was sealed, not this one.
    expect(report.sealedEvent).toMatchObject({ matches: false });
  });

  it('fails when an audit event in the bundle was edited', async () => {
    const dir = copy('audit-edit');
    const path = join(dir, 'audit-events.ndjson');
    writeFileSync(path, readFileSync(path, 'utf8').replace('"assetId":"demo-bank"', '"assetId":"other-bank"'));
    const report = await verifyEvidence(deps, dir);
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toContain('audit-events.ndjson');
  });

  it('verifies the stored recording against the trail\'s recording.sealed', async () => {
    const report = await verifyStoredRecording(deps, recording.id);
    expect(report.ok).toBe(true);
    expect(report.sealedEvent).toMatchObject({ matches: true });
    const chunk = join(services.config.recordingsDir, recording.id, 'chunk-000001.war');
    const original = readFileSync(chunk);
    try {
      const spoiled = Buffer.from(original);
      spoiled[spoiled.length - 1] = spoiled[spoiled.length - 1]! ^ 0xff;
      writeFileSync(chunk, spoiled);
      const bad = await verifyStoredRecording(deps, recording.id);
      expect(bad.ok).toBe(false);
      expect(describeEvidenceReport(bad)).toContain('first failing chunk: chunk-000001.war');
    } finally {
      writeFileSync(chunk, original);
    }
  });

});
