import type { DocumentVerifier } from '../audit/index.js';
import { parseManifest, sha256Hex } from './manifest.js';
import type { ChunkInfo, ChunkVerification, VerifyReport } from './types.js';

/** The files of one recording, wherever they are (the storage, or an evidence bundle's folder). */
export interface RecordingFiles {
  readManifest(): Promise<Buffer | null>;
  listChunks(): Promise<number[]>;
  readChunk(seq: number): Promise<Buffer | null>;
}

export interface VerifyExpectations {
  /** The id the caller asked for; null for a bundle (taken from its manifest). */
  recordingId: string | null;
  /** SHA-256 of the manifest the audit trail vouches for (`recording.sealed`), when known. */
  manifestSha256?: string | null | undefined;
  /** The chunks the database holds for it, when known: one the manifest lacks is a problem. */
  knownChunks?: readonly ChunkInfo[] | undefined;
}

/**
 * Checks the manifest's signature and every chunk against it. Each problem
 * names the chunk or the manifest; the report is `ok` only with none.
 */
export async function verifyFiles(files: RecordingFiles, verifier: DocumentVerifier, expected: VerifyExpectations): Promise<VerifyReport> {
  const problems: string[] = [];
  const chunks: ChunkVerification[] = [];
  const report = (complete: boolean, keyId: string | null, recordingId: string): VerifyReport => ({
    ok: problems.length === 0,
    recordingId,
    complete,
    keyId,
    chunks,
    problems,
  });

  const manifestBytes = await files.readManifest();
  if (manifestBytes === null) {
    problems.push('manifest.json is missing: the recording is not sealed');
    return report(false, null, expected.recordingId ?? '');
  }
  const parsed = parseManifest(manifestBytes);
  if ('problem' in parsed) {
    problems.push(parsed.problem);
    return report(false, null, expected.recordingId ?? '');
  }
  const { manifest, raw } = parsed;
  const recordingId = expected.recordingId ?? manifest.recordingId;

  const check = verifier.check(raw);
  if (check === 'unknown_key') problems.push(`manifest.json is signed by key ${manifest.keyId}, which is not a configured signing key`);
  else if (check === 'bad_signature') problems.push('manifest.json signature does not match its content: the manifest was edited');
  else if (check === 'malformed') problems.push('manifest.json has no readable signature');
  if (manifest.recordingId !== recordingId) problems.push(`manifest.json is the manifest of recording ${manifest.recordingId}, not ${recordingId}`);
  if (expected.manifestSha256 && sha256Hex(manifestBytes) !== expected.manifestSha256) {
    problems.push('manifest.json is not the manifest recorded in the audit trail at seal (its SHA-256 differs)');
  }

  const listed = new Set<number>();
  manifest.chunks.forEach((c, i) => {
    if (c.seq !== i + 1) problems.push(`manifest.json: chunk ${c.seq} is listed out of order (expected ${i + 1})`);
    listed.add(c.seq);
  });
  for (const c of manifest.chunks) {
    const bytes = await files.readChunk(c.seq);
    const problem = bytes === null ? 'missing' : sha256Hex(bytes) !== c.sha256 ? 'changed: its SHA-256 differs from the manifest' : null;
    chunks.push(problem === null ? { seq: c.seq, ok: true } : { seq: c.seq, ok: false, problem });
    if (problem) problems.push(`chunk ${c.seq} ${problem === 'missing' ? 'is missing' : `has ${problem}`}`);
  }
  const unlisted = new Set<number>();
  for (const seq of await files.listChunks()) {
    if (!listed.has(seq)) {
      unlisted.add(seq);
      chunks.push({ seq, ok: false, problem: 'not in the manifest' });
      problems.push(`chunk ${seq} is not in the manifest`);
    }
  }
  for (const c of expected.knownChunks ?? []) {
    if (!listed.has(c.seq) && !unlisted.has(c.seq)) problems.push(`chunk ${c.seq} was written but the manifest does not list it`);
  }
  chunks.sort((a, b) => a.seq - b.seq);
  return report(manifest.complete, manifest.keyId, recordingId);
}
