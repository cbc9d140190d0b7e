import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createCheckpointVerifier,
  describeResult,
  exportLines,
  publicKeyId,
  verifyExportFile,
  type Actor,
  type AuditReader,
  type AuditTrail,
  type VerifyResult,
} from '../audit/index.js';
import { AppError } from '../core/index.js';
import { chunkFileName } from './file-storage.js';
import { isRecordingId } from './recording-id.js';
import type { RecordingCallContext, RecordingManifest, RecordingSummary, VerifyReport } from './types.js';

/**
 * Evidence bundles: what an auditor hands to an external examiner. A folder
 *
 *   recording/chunk-000001.war ...   the chunks as stored, byte for byte
 *   recording/manifest.json          the signed manifest
 *   audit-events.ndjson              the session's and the recording's audit events with seq, hash and
 *                                    prevHash, in the format of `webasset audit export --format ndjson`
 *   public-key.txt                   the public keys that verify the manifest and the checkpoints
 *   verification.txt                 the verification report at the time of writing
 *
 * and its check, `verifyEvidence`, which needs only the folder and the trusted keys.
 */

export const BUNDLE_FILES = {
  recording: 'recording',
  manifest: 'manifest.json',
  auditEvents: 'audit-events.ndjson',
  publicKey: 'public-key.txt',
  verification: 'verification.txt',
} as const;

/** What evidence reads of the recordings service (narrowed here so the service's other parts stay out). */
export interface EvidenceRecordings {
  get(id: string): Promise<RecordingSummary | null>;
  /** The manifest file's bytes as stored; null while recording. */
  manifest(id: string): Promise<Buffer | null>;
  /** A chunk file's bytes as stored, unchecked: a changed byte must reach the bundle for verify to find it. */
  chunk(id: string, seq: number): Promise<Buffer | null>;
  verify(id: string): Promise<VerifyReport>;
  verifyBundle(path: string): Promise<VerifyReport>;
}

export interface EvidenceDeps {
  recordings: EvidenceRecordings;
  reader: AuditReader;
  trail: AuditTrail;
  /** Public keys trusted for manifests and checkpoints (base64): the signing key's first, then earlier ones. */
  publicKeys: readonly string[];
  clock: { now(): number };
}

/** The combined verdict: the recording (chunks + signature) and the audit trail's word on its manifest. */
export interface EvidenceReport {
  ok: boolean;
  recording: VerifyReport;
  /** The audit events file of a bundle (null when checking a recording in the database). */
  auditFile: (VerifyResult & { filtered: boolean }) | null;
  /** The `recording.sealed` event and whether its `manifestSha256` is that of the manifest checked. */
  sealedEvent: { seq: number; manifestSha256: string; matches: boolean } | null;
  manifestSha256: string | null;
  problems: string[];
}

/**
 * Writes the evidence bundle of a sealed recording into `outDir` (created; refused
 * when it exists and is not empty). `recording.exported` (format `evidence`) is
 * recorded before any file is written, so the bundle's audit events include it.
 */
export async function writeEvidence(
  deps: EvidenceDeps,
  request: { id: string; outDir: string; actor: Actor; context?: RecordingCallContext | undefined },
): Promise<EvidenceReport> {
  const { id, outDir, actor } = request;
  const recording = isRecordingId(id) ? await deps.recordings.get(id) : null;
  if (!recording) throw new AppError('not_found', { publicMessage: 'No such recording.' });
  if (recording.state !== 'sealed') throw new AppError('conflict', { publicMessage: 'The recording is still being written; its evidence can be taken once the session has ended.' });
  const manifestBytes = await deps.recordings.manifest(recording.id);
  if (!manifestBytes) throw new AppError('conflict', { publicMessage: 'The recording has no manifest yet.' });
  const manifest = parseManifest(manifestBytes);
  await prepareEmptyDir(outDir);

  await deps.trail.record({
    actor,
    action: 'recording.exported',
    outcome: 'success',
    target: { kind: 'recording', id: recording.id },
    details: { session: recording.sessionId, assetId: recording.assetId, format: 'evidence', chunks: manifest?.chunks.length ?? 0 },
    ...request.context,
  });

  const recordingDir = join(outDir, BUNDLE_FILES.recording);
  await mkdir(recordingDir, { mode: 0o700 });
  // The chunks the manifest names, as stored: a chunk missing from storage stays missing, and verify says so.
  for (const chunk of manifest?.chunks ?? []) {
    const bytes = await deps.recordings.chunk(recording.id, chunk.seq);
    if (bytes) await writeFile(join(recordingDir, chunkFileName(chunk.seq)), bytes, { flag: 'wx', mode: 0o600 });
  }
  await writeFile(join(recordingDir, BUNDLE_FILES.manifest), manifestBytes, { flag: 'wx', mode: 0o600 });
  await writeFile(join(outDir, BUNDLE_FILES.auditEvents), await auditEventsOf(deps, recording), { flag: 'wx', mode: 0o600 });
  await writeFile(join(outDir, BUNDLE_FILES.publicKey), publicKeyText(deps.publicKeys), { flag: 'wx', mode: 0o600 });
  const report = await verifyEvidence(deps, outDir);
  await writeFile(join(outDir, BUNDLE_FILES.verification), `${describeEvidenceReport(report)}\n`, { flag: 'wx', mode: 0o600 });
  return report;
}

/**
 * Checks a bundle folder: every chunk hash and the manifest signature (the
 * recordings service's bundle check), the audit events file's hashes and
 * checkpoint signatures, and that the trail's `recording.sealed` names this
 * manifest's SHA-256.
 */
export async function verifyEvidence(deps: Pick<EvidenceDeps, 'recordings' | 'publicKeys'>, dir: string): Promise<EvidenceReport> {
  if (!existsSync(join(dir, BUNDLE_FILES.recording))) {
    throw new AppError('invalid_request', { publicMessage: `${dir} is not an evidence bundle (no ${BUNDLE_FILES.recording}/ folder)` });
  }
  const recording = await deps.recordings.verifyBundle(dir);
  const manifestBytes = await readFile(join(dir, BUNDLE_FILES.recording, BUNDLE_FILES.manifest)).catch(() => null);
  const manifestSha256 = manifestBytes ? sha256(manifestBytes) : null;
  const problems = [...recording.problems];
  let auditFile: EvidenceReport['auditFile'] = null;
  let sealedEvent: EvidenceReport['sealedEvent'] = null;
  const auditPath = join(dir, BUNDLE_FILES.auditEvents);
  if (!existsSync(auditPath)) problems.push(`${BUNDLE_FILES.auditEvents} is missing`);
  else {
    auditFile = await verifyExportFile(auditPath, () => createCheckpointVerifier(deps.publicKeys));
    if (!auditFile.ok) problems.push(`${BUNDLE_FILES.auditEvents}: ${auditFile.failure?.reason ?? 'does not verify'} (seq ${auditFile.failure?.seq ?? '?'})`);
    const sealed = await sealedEventIn(auditPath, recording.recordingId);
    sealedEvent = sealed && { ...sealed, matches: sealed.manifestSha256 === manifestSha256 };
  }
  problems.push(...sealedProblems(sealedEvent, manifestSha256, auditFile !== null));
  const extra = await unexpectedFiles(dir);
  if (extra.length > 0) problems.push(`unexpected files in ${BUNDLE_FILES.recording}/: ${extra.join(', ')}`);
  return { ok: recording.ok && problems.length === 0, recording, auditFile, sealedEvent, manifestSha256, problems };
}

/** Checks a recording in the database: chunks and signature, and the trail's `recording.sealed` against its manifest. */
export async function verifyStoredRecording(deps: Pick<EvidenceDeps, 'recordings' | 'reader'>, id: string): Promise<EvidenceReport> {
  const summary = isRecordingId(id) ? await deps.recordings.get(id) : null;
  if (!summary) throw new AppError('not_found', { publicMessage: 'No such recording.' });
  const recording = await deps.recordings.verify(summary.id);
  const manifestBytes = await deps.recordings.manifest(summary.id);
  const manifestSha256 = manifestBytes ? sha256(manifestBytes) : null;
  const page = await deps.reader.search({ targetKind: 'recording', targetId: summary.id, actionPrefix: 'recording.sealed' }, { limit: 1, order: 'desc' });
  const event = page.events[0];
  const recorded = event ? readManifestSha(event.details) : null;
  const sealedEvent = event && recorded ? { seq: event.seq, manifestSha256: recorded, matches: recorded === manifestSha256 } : null;
  const problems = [...recording.problems, ...sealedProblems(sealedEvent, manifestSha256, summary.state === 'sealed')];
  return { ok: recording.ok && problems.length === 0, recording, auditFile: null, sealedEvent, manifestSha256, problems };
}

function sealedProblems(sealed: EvidenceReport['sealedEvent'], manifestSha256: string | null, expected: boolean): string[] {
  if (sealed === null) return expected ? ['no recording.sealed audit event names this recording'] : [];
  if (!sealed.matches) return [`the manifest's SHA-256 (${manifestSha256 ?? 'no manifest'}) is not the one recording.sealed (seq ${sealed.seq}) recorded: ${sealed.manifestSha256}`];
  return [];
}

/** The verify report as people read it; the first failing chunk is named on its own line. */
export function describeEvidenceReport(report: EvidenceReport): string {
  const r = report.recording;
  const lines = [
    `recording ${r.recordingId}: ${report.ok ? 'OK' : 'FAILED'}`,
    `complete: ${r.complete ? 'yes' : 'no'}`,
    `manifest signature key: ${r.keyId ?? 'none'}`,
    `manifest sha256: ${report.manifestSha256 ?? 'none'}`,
    ...r.chunks.map((c) => `${chunkFileName(c.seq)}: ${c.ok ? 'ok' : `FAILED${c.problem ? ` (${c.problem})` : ''}`}`),
  ];
  if (report.sealedEvent) {
    lines.push(`audit trail recording.sealed (seq ${report.sealedEvent.seq}): manifest sha256 ${report.sealedEvent.matches ? 'matches' : 'DOES NOT MATCH'}`);
  }
  if (report.auditFile) lines.push(`${BUNDLE_FILES.auditEvents}: ${describeResult(report.auditFile).split('\n').join('\n  ')}`);
  const failing = r.chunks.find((c) => !c.ok);
  if (failing) lines.push(`first failing chunk: ${chunkFileName(failing.seq)} (seq ${failing.seq})`);
  for (const problem of report.problems) lines.push(`problem: ${problem}`);
  return lines.join('\n');
}

/**
 * The audit events that name the session or the recording, through a signed
 * checkpoint taken now: one NDJSON export (`webasset audit verify --file` reads
 * it) merged from the audit module's own export of each target, so the lines are
 * exactly what `audit export` writes. Filtered, so it proves each event's hash
 * and the checkpoints it holds; the links to events in between are checked
 * against the full trail (`webasset audit verify`).
 */
async function auditEventsOf(deps: EvidenceDeps, recording: RecordingSummary): Promise<string> {
  await deps.trail.flush();
  await deps.trail.checkpoint();
  const through = await deps.reader.headSeq();
  const first = await Promise.all(
    [recording.sessionId, recording.id].map((targetId) => deps.reader.search({ targetId }, { limit: 1, order: 'asc' })),
  );
  const fromSeq = Math.min(...first.map((p) => p.events[0]?.seq ?? through));
  const publicKeys = Object.fromEntries(deps.publicKeys.map((k) => [publicKeyId(k), k]));
  let header: Record<string, unknown> | undefined;
  const checkpoints = new Map<number, string>();
  const events = new Map<number, string>();
  for (const targetId of [recording.sessionId, recording.id]) {
    const lines = exportLines(deps.reader, through, { format: 'ndjson', filters: { targetId, fromSeq }, publicKeys, nowMs: deps.clock.now() });
    for await (const chunk of lines) {
      for (const line of chunk.split('\n')) {
        if (line === '') continue;
        const record = JSON.parse(line) as Record<string, unknown> & { type: string; seq?: number };
        if (record.type === 'header') header ??= record;
        else (record.type === 'checkpoint' ? checkpoints : events).set(record.seq!, line);
      }
    }
  }
  const byKey = (m: Map<number, string>) => [...m.entries()].sort((a, b) => a[0] - b[0]).map(([, line]) => line);
  const merged = { ...header, filters: { targetIds: [recording.sessionId, recording.id], fromSeq } };
  return [JSON.stringify(merged), ...byKey(checkpoints), ...byKey(events)].join('\n') + '\n';
}

async function sealedEventIn(path: string, recordingId: string): Promise<{ seq: number; manifestSha256: string } | null> {
  let found: { seq: number; manifestSha256: string } | null = null;
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    if (!line.includes('recording.sealed')) continue;
    try {
      const record = JSON.parse(line) as { type?: string; action?: string; seq?: number; target?: { id?: string } | null; targetId?: string; details?: unknown };
      const target = record.target?.id ?? record.targetId;
      const sha = readManifestSha(record.details);
      if (record.type === 'event' && record.action === 'recording.sealed' && target === recordingId && sha && typeof record.seq === 'number') found = { seq: record.seq, manifestSha256: sha };
    } catch {
      // A broken line is the audit file check's finding, not this one's.
    }
  }
  return found;
}

function readManifestSha(details: unknown): string | null {
  const value = typeof details === 'string' ? safeParse(details) : details;
  const sha = (value as { manifestSha256?: unknown } | null)?.manifestSha256;
  return typeof sha === 'string' ? sha : null;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function parseManifest(bytes: Buffer): RecordingManifest | null {
  const value = safeParse(bytes.toString('utf8')) as RecordingManifest | null;
  return value && Array.isArray(value.chunks) ? value : null;
}

async function prepareEmptyDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if ((await readdir(dir)).length > 0) throw new AppError('invalid_request', { publicMessage: `${dir} is not empty; choose a new folder for the evidence` });
}

/** Files in recording/ that are neither a chunk nor the manifest: a bundle carries nothing unsigned beside them. */
async function unexpectedFiles(dir: string): Promise<string[]> {
  const names = await readdir(join(dir, BUNDLE_FILES.recording)).catch(() => []);
  return names.filter((n) => n !== BUNDLE_FILES.manifest && !/^chunk-\d{6}\.war$/.test(n));
}

/** The current key first: the bundle check reads the first key line as the bundle's key. */
function publicKeyText(keys: readonly string[]): string {
  const lines = keys.flatMap((key, i) => [`# key id ${publicKeyId(key)}`, `${i === 0 ? 'current' : 'trusted'}: ${key}`]);
  return `# Ed25519 public keys (raw 32 bytes, base64) that verify manifest.json and the audit checkpoints of this bundle.\n${lines.join('\n')}\n`;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
