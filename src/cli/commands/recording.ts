import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Services } from '../../app.js';
import { createReplayAccess, type ReplayScope } from '../../access/index.js';
import { AppError } from '../../core/index.js';
import type { Principal } from '../../identity/index.js';
import {
  EXPORT_VIDEO_FORMATS,
  createRecordingExporter,
  describeEvidenceReport,
  exportRecording,
  findFfmpeg,
  isExportVideoFormat,
  isRecordingId,
  verifyEvidence,
  verifyEvidenceArchive,
  verifyStoredRecording,
  writeEvidence,
  type EvidenceRecordings,
  type RecordingEvent,
  type RecordingExporter,
  type RecordingListFilter,
  type RecordingSummary,
} from '../../recording/index.js';
import { withServices, type CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { writeLine } from '../io.js';

/**
 * `webasset recording ...`: the auditor's tools on the host. The CLI acts as the
 * local administrator (like `webasset users`): whoever can run it owns the data
 * folder and could read the recordings' files anyway. It still asks the access
 * module, like every entry point, so the same decisions hold and are recorded.
 */
export function recordingCommand(ctx: CommandContext, args: string[]): Promise<number> {
  return runRecordingCommand(ctx, args, cliPrincipal(ctx));
}

/** The local administrator, named by the operating-system account that ran the command. */
export function cliPrincipal(ctx: CommandContext): Principal {
  return { kind: 'user', id: ctx.actor.id, name: ctx.actor.name ?? ctx.actor.id, roles: ['admin'], groups: [], via: 'cli', mfa: true };
}

/** The command for a given principal: `recordingCommand` passes the local administrator; tests pass others. */
export async function runRecordingCommand(ctx: CommandContext, args: string[], principal: Principal): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'list':
      return list(ctx, rest, principal);
    case 'show':
      return show(ctx, rest, principal);
    case 'export':
      return exportVideo(ctx, rest, principal);
    case 'evidence':
      return evidence(ctx, rest, principal);
    case 'verify':
      return verify(ctx, rest, principal);
    case 'delete':
      return change(ctx, rest, principal, 'delete');
    case 'hold':
      return change(ctx, rest, principal, 'hold');
    case 'release':
      return change(ctx, rest, principal, 'release');
    default:
      throw usage('expected: recording list|show|export|evidence|verify|delete|hold|release');
  }
}

async function list(ctx: CommandContext, args: string[], principal: Principal): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      user: { type: 'string' },
      asset: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      text: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1 || limit > 200)) throw usage('--limit must be a whole number from 1 to 200');
  const filter: RecordingListFilter = {
    userId: values.user,
    assetId: values.asset,
    from: time(values.from, '--from'),
    to: time(values.to, '--to'),
    text: values.text,
    limit,
    cursor: values.cursor,
  };
  const page = await withServices(ctx, async (s) => {
    const scope = await replayScope(s, principal);
    return s.recordings.list({ ...filter, ...(scope.all ? {} : { assetIds: scope.assetIds }) });
  });
  for (const r of page.items) writeLine(ctx.io.stdout, row(r));
  if (page.nextCursor) writeLine(ctx.io.stderr, `more: --cursor ${page.nextCursor}`);
  return EXIT.ok;
}

async function show(ctx: CommandContext, args: string[], principal: Principal): Promise<number> {
  const { positionals } = parseArgs({ args, options: {}, strict: true, allowPositionals: true });
  const id = oneId(positionals, 'recording show needs one recording id');
  const { recording, events } = await withServices(ctx, async (s) => {
    const found = await replayable(s, principal, id);
    await s.audit.trail.record({
      actor: ctx.actor,
      action: 'recording.replayed',
      outcome: 'success',
      target: { kind: 'recording', id: found.id },
      details: { session: found.sessionId, assetId: found.assetId, what: 'events', via: 'cli' },
    });
    return { recording: found, events: await s.recordings.events(found.id) };
  });
  for (const [key, value] of Object.entries(recording)) writeLine(ctx.io.stdout, `${key}: ${value === null ? '-' : String(value)}`);
  writeLine(ctx.io.stdout, 'events:');
  for (const e of events) writeLine(ctx.io.stdout, `  ${clock(e.t)}  ${describeEvent(e)}`);
  return EXIT.ok;
}

async function exportVideo(ctx: CommandContext, args: string[], principal: Principal): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { format: { type: 'string' }, out: { type: 'string' } }, strict: true, allowPositionals: true });
  const id = oneId(positionals, 'recording export needs one recording id');
  const format = values.format ?? 'webm';
  if (!isExportVideoFormat(format)) throw usage(`--format must be one of ${EXPORT_VIDEO_FORMATS.join(', ')}`);
  const outPath = hostPath(ctx, values.out ?? `recording-${id}.${format}`, '--out');
  const result = await withServices(ctx, async (s) => {
    const found = await replayable(s, principal, id);
    return exportRecording({ recordings: s.recordings, trail: s.audit.trail, exporter: exporterOf(ctx, s) }, { id: found.id, format, outPath, actor: ctx.actor });
  });
  writeLine(ctx.io.stderr, `exported ${result.frames} frames, ${(result.durationMs / 1000).toFixed(1)} s, ${result.width}x${result.height} ${result.codec}, ${result.bytes} bytes`);
  writeLine(ctx.io.stdout, outPath);
  return EXIT.ok;
}

async function evidence(ctx: CommandContext, args: string[], principal: Principal): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { out: { type: 'string' } }, strict: true, allowPositionals: true });
  const id = oneId(positionals, 'recording evidence needs one recording id');
  if (!values.out) throw usage('recording evidence needs --out DIR (a new or empty folder)');
  const outDir = hostPath(ctx, values.out, '--out');
  const report = await withServices(ctx, async (s) => {
    const found = await replayable(s, principal, id);
    return writeEvidence(evidenceDeps(s), { id: found.id, outDir, actor: ctx.actor });
  });
  writeLine(ctx.io.stderr, `evidence written to ${outDir} (${report.ok ? 'verifies' : 'DOES NOT VERIFY; see verification.txt'})`);
  writeLine(ctx.io.stdout, outDir);
  return report.ok ? EXIT.ok : EXIT.failure;
}

/**
 * `verify ID` checks the stored recording; `verify DIR` an evidence bundle, and `verify FILE.tar` one
 * as downloaded from the desk (GET /api/recordings/:id/evidence); a bundle needs only the configured keys.
 */
async function verify(ctx: CommandContext, args: string[], principal: Principal): Promise<number> {
  const { positionals } = parseArgs({ args, options: {}, strict: true, allowPositionals: true });
  if (positionals.length !== 1) throw usage('recording verify needs one recording id, bundle folder or bundle .tar file');
  const target = positionals[0]!;
  const report = await withServices(ctx, async (s) => {
    if (isRecordingId(target)) {
      const found = await replayable(s, principal, target);
      return verifyStoredRecording(evidenceDeps(s), found.id);
    }
    const path = hostPath(ctx, target, 'the bundle folder or file');
    const info = existsSync(path) ? statSync(path) : null;
    if (!info || !(info.isDirectory() || info.isFile())) throw usage(`${positionals[0]} is neither a recording id nor a bundle folder or .tar file`);
    // Checking a bundle reads no recording of the product; it still takes the right to replay recordings.
    await s.access.authorize(principal, 'recordings.replay');
    // An archive is extracted into a private folder of the system's temporary folder, checked there and removed.
    return info.isDirectory() ? verifyEvidence(evidenceDeps(s), path) : verifyEvidenceArchive(evidenceDeps(s), path, tmpdir());
  });
  writeLine(report.ok ? ctx.io.stdout : ctx.io.stderr, describeEvidenceReport(report));
  return report.ok ? EXIT.ok : EXIT.failure;
}

async function change(ctx: CommandContext, args: string[], principal: Principal, what: 'delete' | 'hold' | 'release'): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { reason: { type: 'string' } }, strict: true, allowPositionals: true });
  const id = oneId(positionals, `recording ${what} needs one recording id`);
  const reason = values.reason?.trim();
  if (!reason) throw usage(`recording ${what} needs --reason TEXT (it goes into the audit trail)`);
  await withServices(ctx, async (s) => {
    await s.access.authorize(principal, 'admin.recordings.write');
    const found = await s.recordings.get(id);
    if (!found) throw new AppError('not_found', { publicMessage: 'No such recording.' });
    if (what === 'delete') await s.recordings.delete(found.id, ctx.actor, reason);
    else await s.recordings.setLegalHold(found.id, what === 'hold', ctx.actor, reason);
  });
  writeLine(ctx.io.stdout, what === 'delete' ? `deleted ${id}` : what === 'hold' ? `legal hold placed on ${id}` : `legal hold released on ${id}`);
  return EXIT.ok;
}

// ---------------------------------------------------------------------------------------------
// Who may replay what: the access module's replay rule, the same one the HTTP routes use.

function replayAccess(s: Services) {
  return createReplayAccess({ access: s.access, find: (id) => s.recordings.get(id), clock: s.clock });
}

function replayScope(s: Services, principal: Principal): Promise<ReplayScope> {
  return replayAccess(s).scope(principal);
}

/** The recording when the principal may replay it; unknown and forbidden alike are `not_found` (the refusal is still recorded). */
function replayable(s: Services, principal: Principal, id: string): Promise<RecordingSummary> {
  return replayAccess(s).recording(principal, id);
}

// ---------------------------------------------------------------------------------------------

function evidenceDeps(s: Services) {
  const recordings: EvidenceRecordings = s.recordings;
  return {
    recordings,
    reader: s.audit.reader,
    trail: s.audit.trail,
    publicKeys: [s.audit.signer.publicKey, ...s.config.auditTrustedKeys],
    clock: s.clock,
  };
}

/**
 * Inside a serving process (through the admin socket) its one exporter, so exports there still run one
 * at a time; a one-shot command makes its own, which finds ffmpeg on the PATH it was started with.
 */
function exporterOf(ctx: CommandContext, s: Services): RecordingExporter {
  return ctx.services ? s.recordingExporter : createRecordingExporter({ tools: () => findFfmpeg({ configured: s.config.ffmpegPath, pathEnv: ctx.io.env.PATH }) });
}

/**
 * A path the caller gave. Through the admin socket the server reads or writes it, from
 * its own working folder, so only an absolute path says where without surprise.
 */
function hostPath(ctx: CommandContext, path: string, what: string): string {
  if (ctx.services && !isAbsolute(path)) throw usage(`${what} must be an absolute path while the server holds the embedded database (the server reads and writes it)`);
  return resolve(ctx.io.cwd, path);
}

function row(r: RecordingSummary): string {
  const state = r.state === 'sealed' ? (r.complete ? 'complete' : `incomplete:${r.incompleteReason ?? '?'}`) : r.state;
  return [r.id, r.startedAt, clock(r.durationMs), state, r.assetId, r.userId, r.legalHold ? 'hold' : '-', String(r.bytes)].join('\t');
}

/** m:ss (h:mm:ss past an hour) of a millisecond offset. */
function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  const mmss = `${Math.floor((s % 3600) / 60)}:${String(s % 60).padStart(2, '0')}`;
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mmss.padStart(5, '0')}` : mmss;
}

function describeEvent(e: RecordingEvent): string {
  switch (e.type) {
    case 'state':
      return `state ${e.state}${e.reason ? ` (${e.reason})` : ''}`;
    case 'navigated':
      return `navigated ${e.url} "${e.title}"`;
    case 'tab':
      return `tab ${e.action} ${e.tabId} ${e.url}`;
    case 'click':
      return `click ${e.target} at ${e.x},${e.y}${e.button === 'left' ? '' : ` (${e.button})`}`;
    case 'keys':
      return `typed ${e.count} key(s) in ${e.target}${e.text === undefined ? ' (masked)' : `: ${JSON.stringify(e.text)}`}`;
    case 'clipboard':
      return `clipboard ${e.direction} ${e.chars} chars`;
    case 'download':
      return `download ${e.fileName} (${e.size} bytes, sha256 ${e.sha256})`;
    case 'upload':
      return `upload ${e.fileNames.join(', ')}`;
    case 'blocked':
      return `blocked ${e.what}${e.url ? ` ${e.url}` : ''}: ${e.reason}`;
    case 'tool':
      return `tool ${e.tool}: ${e.summary}`;
    case 'viewer':
      return `viewer ${e.action} ${e.userId} (${e.mode})`;
  }
}

function oneId(positionals: string[], message: string): string {
  if (positionals.length !== 1) throw usage(message);
  return positionals[0]!;
}

function time(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms) || !/^\d{4}-\d{2}-\d{2}/.test(value)) throw usage(`${flag} must be an ISO 8601 time (2026-01-31 or 2026-01-31T12:00:00Z)`);
  return ms;
}

function usage(message: string): AppError {
  return new AppError('invalid_request', { publicMessage: message });
}
