import { closeSync, createWriteStream, existsSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Writable } from 'node:stream';
import {
  EXPORT_FORMATS,
  createCheckpointSigner,
  createCheckpointVerifier,
  describeResult,
  verifyExportFile,
  type ExportFormat,
} from '../../audit/index.js';
import { AppError } from '../../core/index.js';
import { BUNDLE_FILES, extractTar } from '../../recording/index.js';
import { loadCliConfig, withServices, type CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { writeLine } from '../io.js';

export async function auditCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'verify') return verify(ctx, rest);
  if (sub === 'export') return exportEvents(ctx, rest);
  if (sub === 'public-key') return publicKey(ctx, rest);
  throw usage('expected: audit verify|export|public-key');
}

/** Prints the checkpoint signing key's public half and id: what an auditor needs to check exports elsewhere. */
function publicKey(ctx: CommandContext, args: string[]): number {
  parseArgs({ args, options: {}, strict: true, allowPositionals: false });
  const keys = deploymentPublicKeys(ctx);
  if (keys.length === 0) throw usage('no audit signing key is configured and the data folder has no key file yet (start the server once)');
  keys.forEach((key, i) => {
    const id = createCheckpointVerifier([key]).keyIds[0] ?? '';
    writeLine(ctx.io.stdout, `${key}\t${id}\t${i === 0 ? 'current' : 'trusted'}`);
  });
  return EXIT.ok;
}

async function verify(ctx: CommandContext, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { from: { type: 'string' }, file: { type: 'string' }, 'public-key': { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  if (values.file !== undefined) {
    if (values.from !== undefined) throw usage('--from applies to the database, not to --file');
    return verifyFile(ctx, values.file, values['public-key']);
  }
  if (values['public-key'] !== undefined) throw usage('--public-key applies to --file');
  const fromSeq = values.from === undefined ? 1 : Number(values.from);
  if (!Number.isSafeInteger(fromSeq) || fromSeq < 1) throw usage('--from must be a sequence number (1 or more)');
  const result = await withServices(ctx, (s) => s.audit.service.verify(ctx.actor, { fromSeq }));
  writeLine(result.ok ? ctx.io.stdout : ctx.io.stderr, describeResult(result));
  return result.ok ? EXIT.ok : EXIT.failure;
}

async function verifyFile(ctx: CommandContext, file: string, publicKey: string | undefined): Promise<number> {
  if (!existsSync(file)) throw usage(`no such file: ${file}`);
  if (!isTarArchive(file)) return verifyExport(ctx, file, publicKey);
  // An evidence bundle downloaded from the desk: its audit events file, extracted into a private folder and removed after.
  const scratch = await mkdtemp(join(tmpdir(), 'webasset-audit-tar-'));
  try {
    await extractTar(file, scratch);
    const inside = [join(scratch, BUNDLE_FILES.auditEvents), ...readdirSync(scratch).map((name) => join(scratch, name, BUNDLE_FILES.auditEvents))].find((p) => existsSync(p));
    if (!inside) throw usage(`${file} holds no ${BUNDLE_FILES.auditEvents}`);
    return await verifyExport(ctx, inside, publicKey);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** A POSIX (or GNU) tar archive: the magic of its first header. */
function isTarArchive(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const magic = Buffer.alloc(5);
    return readSync(fd, magic, 0, 5, 257) === 5 && magic.toString('latin1') === 'ustar';
  } finally {
    closeSync(fd);
  }
}

async function verifyExport(ctx: CommandContext, file: string, publicKey: string | undefined): Promise<number> {
  const trusted = publicKey ? [publicKey] : deploymentPublicKeys(ctx);
  let untrustedNote = '';
  const result = await verifyExportFile(file, (exportKeys) => {
    if (trusted.length > 0) return createCheckpointVerifier(trusted);
    untrustedNote = `note: no trusted key configured; checkpoint signatures were checked against the key(s) named in the export (${Object.keys(exportKeys).join(', ') || 'none'}). Compare them with your deployment's key, or pass --public-key.`;
    return createCheckpointVerifier(Object.values(exportKeys));
  });
  writeLine(result.ok ? ctx.io.stdout : ctx.io.stderr, describeResult(result));
  if (untrustedNote) writeLine(ctx.io.stderr, untrustedNote);
  return result.ok ? EXIT.ok : EXIT.failure;
}

/**
 * Public keys this deployment trusts: the configured signing key's (or the
 * embedded key file's), then the earlier ones. Never creates a key.
 */
function deploymentPublicKeys(ctx: CommandContext): string[] {
  let config;
  try {
    config = loadCliConfig(ctx).config;
  } catch {
    return [];
  }
  const path = join(config.dataDir, 'keys', 'audit-signing.key');
  const seed = config.auditSigningKey ?? (existsSync(path) ? readFileSync(path, 'utf8').trim() : undefined);
  return [...(seed ? [createCheckpointSigner(seed).publicKey] : []), ...config.auditTrustedKeys];
}

async function exportEvents(ctx: CommandContext, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      format: { type: 'string' },
      output: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      actor: { type: 'string' },
      action: { type: 'string' },
      'target-kind': { type: 'string' },
      'target-id': { type: 'string' },
      outcome: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.output && ctx.services) throw usage('--output cannot be used while the server holds the embedded database; redirect stdout instead');
  const format = values.format as ExportFormat | undefined;
  if (!format || !EXPORT_FORMATS.includes(format)) throw usage(`--format must be one of ${EXPORT_FORMATS.join(', ')}`);
  const params = {
    from: values.from,
    to: values.to,
    actor: values.actor,
    action: values.action,
    targetKind: values['target-kind'],
    targetId: values['target-id'],
    outcome: values.outcome,
  };
  await withServices(ctx, async (s) => {
    const lines = await s.audit.service.export(ctx.actor, format, params);
    const out: Writable = values.output ? createWriteStream(resolve(ctx.io.cwd, values.output), { flags: 'wx', mode: 0o600 }) : ctx.io.stdout;
    for await (const chunk of lines) {
      if (!out.write(chunk)) await once(out, 'drain');
    }
    if (values.output) {
      out.end();
      await once(out, 'finish');
    }
  });
  if (values.output) writeLine(ctx.io.stderr, `exported to ${values.output}`);
  return EXIT.ok;
}

function usage(message: string): AppError {
  return new AppError('invalid_request', { publicMessage: message });
}
