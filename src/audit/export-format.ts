import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { canonicalJson } from '../core/index.js';
import { fromView, toView } from './chain.js';
import { ChainChecker, type VerifyResult } from './chain-checker.js';
import type { AuditEventView, ChainedEvent, CheckpointRecord } from './event.js';
import type { AuditFilters, AuditReader } from './reader.js';
import type { CheckpointVerifier } from './signer.js';

export type ExportFormat = 'ndjson' | 'csv';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['ndjson', 'csv'];
const EXPORT_TYPE = 'webasset.audit.export';

export interface ExportOptions {
  format: ExportFormat;
  filters: AuditFilters;
  /** Public keys that signed checkpoints, by key id, written into the header for reference. */
  publicKeys: Record<string, string>;
  nowMs: number;
}

/**
 * Streams an export line by line. NDJSON carries everything needed to verify
 * offline (`webasset audit verify --file`): a header, the signed checkpoints
 * of the range, then each event with its hashes. CSV is for spreadsheets.
 */
export async function* exportLines(reader: AuditReader, throughSeq: number, options: ExportOptions): AsyncGenerator<string> {
  const { filters } = options;
  const bounded: AuditFilters = { ...filters, toSeq: Math.min(filters.toSeq ?? throughSeq, throughSeq) };
  if (options.format === 'csv') {
    yield CSV_COLUMNS.join(',') + '\r\n';
    for await (const page of reader.stream(bounded)) yield page.map((e) => csvRow(e) + '\r\n').join('');
    return;
  }
  const filtered = Object.entries(filters).some(([key, value]) => value !== undefined && key !== 'fromSeq' && key !== 'toSeq');
  yield JSON.stringify({
    type: 'header',
    format: EXPORT_TYPE,
    version: 1,
    exportedAt: new Date(options.nowMs).toISOString(),
    filtered,
    filters,
    // The export ends at a signed checkpoint; offline verification insists on reaching it.
    throughSeq: bounded.toSeq,
    publicKeys: options.publicKeys,
  }) + '\n';
  for (const cp of await reader.checkpoints(bounded.fromSeq ?? 1, bounded.toSeq)) yield JSON.stringify({ type: 'checkpoint', ...cp }) + '\n';
  for await (const page of reader.stream(bounded)) {
    yield page.map((e) => JSON.stringify({ type: 'event', ...toView(e) }) + '\n').join('');
  }
}

/** Verifies an NDJSON export without a database. */
export async function verifyExportFile(
  path: string,
  /** Picks the verifier once the header is read; it may consult the keys the export names. */
  verifierFor: (exportKeys: Record<string, string>) => CheckpointVerifier,
): Promise<VerifyResult & { filtered: boolean }> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let checker: ChainChecker | undefined;
  let filtered = false;
  let throughSeq: unknown;
  let lineNo = 0;
  const broken = (reason: string) => ({
    ok: false,
    events: 0,
    firstSeq: null,
    lastSeq: null,
    lastHash: null,
    lastCheckpoint: null,
    checkpoints: 0,
    gaps: 0,
    filtered,
    failure: { seq: 0, reason: `line ${lineNo}: ${reason}` },
  });
  for await (const line of lines) {
    lineNo += 1;
    if (line.trim() === '') continue;
    let record: { type?: unknown } & Record<string, unknown>;
    try {
      record = JSON.parse(line) as typeof record;
    } catch {
      return broken('not JSON');
    }
    if (!checker) {
      if (record.type !== 'header' || record.format !== EXPORT_TYPE || record.version !== 1) return broken('not a webasset audit export (header missing)');
      filtered = record.filtered === true;
      throughSeq = record.throughSeq;
      const keys = record.publicKeys && typeof record.publicKeys === 'object' ? (record.publicKeys as Record<string, string>) : {};
      checker = new ChainChecker(verifierFor(keys), { allowGaps: filtered, startAnywhere: true });
      continue;
    }
    if (record.type === 'checkpoint') checker.addCheckpoint(record as unknown as CheckpointRecord);
    else if (record.type === 'event') {
      let event: ChainedEvent;
      try {
        const view = record as unknown as AuditEventView;
        event = fromView(view, canonicalJson(view.details));
      } catch {
        return broken('malformed event');
      }
      checker.addEvent(event);
    } else return broken(`unknown record type ${JSON.stringify(record.type)}`);
    if (checker.failed) break;
  }
  if (!checker) return broken('empty file');
  const result = { ...checker.finish({ requireAllCheckpoints: !filtered }), filtered };
  if (!result.ok || filtered) return result;
  return { ...checkComplete(result, throughSeq), filtered };
}

/**
 * An unfiltered export must reach the sequence number its header names, and
 * that last event must be under a signed checkpoint: cutting lines off the
 * end then only works back to an older checkpoint, whose signing time the
 * verdict prints.
 */
function checkComplete(result: VerifyResult, throughSeq: unknown): VerifyResult {
  const fail = (seq: number, reason: string): VerifyResult => ({ ...result, ok: false, failure: { seq, reason } });
  if (typeof throughSeq !== 'number' || !Number.isSafeInteger(throughSeq) || throughSeq < 0) return fail(0, 'the header does not say where the export ends (throughSeq)');
  const last = result.lastSeq ?? 0;
  if (last !== throughSeq) return fail(last + 1, `the header says the export runs through seq ${throughSeq}, but it ends at seq ${last} (lines removed at the end?)`);
  if (last > 0 && result.lastCheckpoint?.seq !== last) return fail(last, `the last event (seq ${last}) is not under a signed checkpoint, so the end of the export cannot be proven`);
  return result;
}

const CSV_COLUMNS = [
  'seq', 'id', 'time', 'actor_kind', 'actor_id', 'actor_name', 'action', 'target_kind', 'target_id', 'outcome',
  'source_ip', 'user_agent', 'request_id', 'node_id', 'details', 'prev_hash', 'hash',
];

function csvRow(e: ChainedEvent): string {
  return [
    String(e.seq), e.id, new Date(e.timeMs).toISOString(), e.actorKind, e.actorId, e.actorName, e.action, e.targetKind,
    e.targetId, e.outcome, e.sourceIp, e.userAgent, e.requestId, e.nodeId, e.details, e.prevHash, e.hash,
  ]
    .map(csvCell)
    .join(',');
}

/** RFC 4180 quoting, plus a leading quote mark on cells a spreadsheet would run as a formula. */
function csvCell(value: string | null): string {
  if (value === null) return '';
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
