import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { AppError } from '../../core/index.js';
import { FIELD_NAME, KEY_BYTES, MAX_AGE_DAYS_LIMIT, MAX_VALUE_BYTES, type EntryMetadata, type Vault } from '../../vault/index.js';
import { ADMIN_SOCKET_NAME, forwardToServer } from '../admin-socket.js';
import { loadCliConfig, withServices, type CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { writeLine } from '../io.js';

/**
 * `webasset vault ...`: set credentials and look after the vault from the host.
 * Values come from standard input or a file, never from the command line, and
 * nothing here prints one.
 */
export async function vaultCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (rest.some((a) => a === '--value' || a.startsWith('--value='))) {
    throw usage('values are never taken from the command line (shell history, ps): use --stdin or --file FILE');
  }
  switch (sub) {
    case 'set':
      return setCommand(ctx, rest);
    case 'list':
    case 'stale': {
      parseArgs({ args: rest, options: {}, strict: true, allowPositionals: false });
      const entries = await withServices(ctx, (s) => (sub === 'stale' ? s.vault.stale() : s.vault.list()));
      for (const e of entries) writeLine(ctx.io.stdout, entryLine(e));
      if (sub === 'stale' && entries.length === 0) writeLine(ctx.io.stderr, 'no stale entries');
      return EXIT.ok;
    }
    case 'history': {
      const id = onePositional(rest, 'vault history needs one entry id');
      const versions = await withServices(ctx, (s) => s.vault.history(id));
      // Tab-separated: version, state, fields, set at, set by, superseded at (or -).
      for (const v of versions) {
        writeLine(ctx.io.stdout, [v.version, v.current ? 'current' : 'superseded', v.fields.join(',') || '-', v.setAt, v.setBy.name ?? v.setBy.id, v.supersededAt ?? '-'].join('\t'));
      }
      return EXIT.ok;
    }
    case 'delete': {
      const id = onePositional(rest, 'vault delete needs one entry id');
      await withServices(ctx, (s) => s.vault.delete(id, ctx.actor));
      writeLine(ctx.io.stdout, `deleted ${id} and all its versions`);
      return EXIT.ok;
    }
    case 'rotate-key':
      return rotateCommand(ctx, rest);
    case 'link': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { 'infisical-project': { type: 'string' }, environment: { type: 'string' }, path: { type: 'string' }, key: { type: 'string', multiple: true } },
        strict: true,
        allowPositionals: true,
      });
      if (positionals.length !== 1) throw usage('vault link needs one entry id');
      const project = values['infisical-project'];
      if (!project || !values.environment || !values.key?.length) throw usage('vault link ID needs --infisical-project ID --environment SLUG --key FIELD=SECRET_NAME [--key ...] [--path /folder]');
      const keys: Record<string, string> = {};
      for (const pair of values.key) {
        const at = pair.indexOf('=');
        if (at < 1) throw usage('--key is FIELD=SECRET_NAME, for example password=LOAN_PASSWORD');
        keys[pair.slice(0, at)] = pair.slice(at + 1);
      }
      const ref = await withServices(ctx, (s) =>
        s.vault.setReference(positionals[0]!, { provider: 'infisical', projectId: project, environment: values.environment!, secretPath: values.path ?? '/', keys }, ctx.actor),
      );
      writeLine(ctx.io.stdout, `linked ${ref.id} to Infisical ${ref.projectId} ${ref.environment} ${ref.secretPath}: ${Object.entries(ref.keys).map(([f, n]) => `${f}=${n}`).join(', ')}`);
      return EXIT.ok;
    }
    case 'unlink': {
      const id = onePositional(rest, 'vault unlink needs one entry id');
      await withServices(ctx, (s) => s.vault.deleteReference(id, ctx.actor));
      writeLine(ctx.io.stdout, `unlinked ${id}: its reads go to the built-in vault again`);
      return EXIT.ok;
    }
    default:
      throw usage('expected: vault set|list|history|stale|delete|rotate-key|link|unlink');
  }
}

async function setCommand(ctx: CommandContext, rest: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: rest,
    options: { field: { type: 'string' }, stdin: { type: 'boolean' }, file: { type: 'string' }, 'max-age-days': { type: 'string' } },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw usage('vault set needs one entry id (and never a value: use --stdin or --file FILE)');
  const id = positionals[0]!;
  const field = values.field;
  if (field !== undefined && !FIELD_NAME.test(field)) throw usage('--field is a name such as username, password, totpSeed or branchCode');
  if (field !== undefined && Boolean(values.stdin) === (values.file !== undefined)) throw usage('--field needs exactly one of --stdin or --file FILE');
  if (field === undefined && (values.stdin || values.file !== undefined)) throw usage('--stdin and --file need --field NAME');
  const maxAgeText = values['max-age-days'];
  const maxAgeDays = maxAgeText === undefined ? undefined : maxAgeText === 'default' ? null : /^\d{1,4}$/.test(maxAgeText) ? Number(maxAgeText) : NaN;
  if (maxAgeDays !== undefined && maxAgeDays !== null && !(maxAgeDays >= 1 && maxAgeDays <= MAX_AGE_DAYS_LIMIT)) {
    throw usage(`--max-age-days must be a whole number from 1 to ${MAX_AGE_DAYS_LIMIT}, or default`);
  }
  if (field === undefined && maxAgeDays === undefined) throw usage('vault set needs --field NAME with --stdin or --file FILE, or --max-age-days');

  const value = field === undefined ? undefined : values.file !== undefined ? readValueFile(resolve(ctx.io.cwd, values.file)) : await readAll(ctx.io.stdin);
  try {
    if (value !== undefined) checkValue(value);
    const run = (vault: Vault) =>
      field === undefined || value === undefined
        ? vault.setMaxAge(id, maxAgeDays!, ctx.actor)
        : vault.set({ entryId: id, values: new Map([[field, Buffer.from(value)]]), merge: true, maxAgeDays }, ctx.actor);
    const meta = await forwardIfLocked(ctx, ['vault', 'set', id, ...(field ? ['--field', field, '--stdin'] : []), ...(maxAgeText ? ['--max-age-days', maxAgeText] : [])], value, () =>
      withServices(ctx, (s) => run(s.vault)),
    );
    if (typeof meta === 'number') return meta;
    writeLine(ctx.io.stdout, `set ${id}: version ${meta.version}, fields ${meta.fields.join(',')}, maximum age ${meta.maxAgeDays} days`);
    return EXIT.ok;
  } finally {
    value?.fill(0);
  }
}

async function rotateCommand(ctx: CommandContext, rest: string[]): Promise<number> {
  const { values } = parseArgs({ args: rest, options: { 'new-key-file': { type: 'string' }, 'batch-size': { type: 'string' }, 'settle-seconds': { type: 'string' } }, strict: true, allowPositionals: false });
  const file = values['new-key-file'];
  if (!file) throw usage('vault rotate-key needs --new-key-file FILE (32 bytes, base64: openssl rand -base64 32); - reads it from standard input');
  const batchText = values['batch-size'];
  const batchSize = batchText === undefined ? undefined : /^\d{1,5}$/.test(batchText) && Number(batchText) >= 1 ? Number(batchText) : NaN;
  if (Number.isNaN(batchSize)) throw usage('--batch-size must be a whole number from 1 to 99999');
  const settleText = values['settle-seconds'];
  const settleSeconds = settleText === undefined ? undefined : /^\d{1,4}$/.test(settleText) ? Number(settleText) : NaN;
  if (Number.isNaN(settleSeconds)) throw usage('--settle-seconds must be a whole number from 0 to 9999');
  const raw = file === '-' ? await readAll(ctx.io.stdin) : readValueFile(resolve(ctx.io.cwd, file));
  let key: Buffer | undefined;
  try {
    const text = raw.toString('ascii').trim();
    key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0);
    if (key.length !== KEY_BYTES) throw usage('the new key file must hold 32 bytes encoded as base64 (openssl rand -base64 32)');
    const newKey = key;
    const forwardArgs = ['vault', 'rotate-key', '--new-key-file', '-', ...(batchText ? ['--batch-size', batchText] : []), ...(settleText ? ['--settle-seconds', settleText] : [])];
    const result = await forwardIfLocked(ctx, forwardArgs, Buffer.from(`${text}\n`), () =>
      withServices(ctx, (s) =>
        s.vault.rotateKey(newKey, ctx.actor, {
          batchSize,
          // The embedded database has one node; on PostgreSQL the other nodes refresh their keys every KEY_REFRESH_SECONDS.
          settleMs: (settleSeconds ?? (s.database.kind === 'pglite' ? 0 : DEFAULT_SETTLE_SECONDS)) * 1000,
          onSettle: (ms) => writeLine(ctx.io.stderr, `waiting ${Math.ceil(ms / 1000)} s so that every running node learns the new key`),
          onProgress: (p) => writeLine(ctx.io.stderr, `re-wrapped ${p.rewrapped}, ${p.remaining} left`),
        }),
      ),
    );
    if (typeof result === 'number') return result;
    if (!result.rotated) writeLine(ctx.io.stdout, `nothing to do: key ${result.keyId} is already the vault's key`);
    else writeLine(ctx.io.stdout, `rotated: every entry is now wrapped by key ${result.keyId} (re-wrapped ${result.rewrapped} now; the old key ${result.previousKeyId} opens none). Point WEBASSET_MASTER_KEY(_FILE) or data/keys/master.key at the new key before the next restart.`);
    return EXIT.ok;
  } finally {
    raw.fill(0);
    key?.fill(0);
  }
}

/** Three refresh intervals of the running nodes (src/app.ts refreshes vault keys every 10 s). */
const DEFAULT_SETTLE_SECONDS = 30;

/**
 * With the embedded database held by a running server, the command runs in the server through
 * the admin socket, the value travelling as its standard input (never in argv).
 */
async function forwardIfLocked<T>(ctx: CommandContext, argv: string[], stdin: Buffer | undefined, run: () => Promise<T>): Promise<T | number> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof AppError && error.code === 'embedded_database_locked') || ctx.services) throw error;
    const forwarded = await forwardToServer(join(loadCliConfig(ctx).config.dataDir, ADMIN_SOCKET_NAME), argv, ctx.actor, ctx.io, stdin);
    if (forwarded === null) throw error;
    return forwarded;
  }
}

function checkValue(value: Buffer): void {
  if (value.length === 0) throw usage('the value is empty');
  if (value.length > MAX_VALUE_BYTES) throw usage(`the value is longer than ${MAX_VALUE_BYTES} bytes`);
}

/** A value file, without one trailing newline (what `echo` and editors add). */
function readValueFile(path: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (error) {
    throw usage(`cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return dropNewline(data);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  const all = Buffer.concat(chunks);
  for (const chunk of chunks) chunk.fill(0);
  return dropNewline(all);
}

function dropNewline(data: Buffer): Buffer {
  let end = data.length;
  if (end > 0 && data[end - 1] === 0x0a) end--;
  if (end > 0 && data[end - 1] === 0x0d) end--;
  return data.subarray(0, end);
}

/** Tab-separated: id, version, fields, set at, set by, age in days, maximum age, fresh or stale. */
function entryLine(e: EntryMetadata): string {
  return [e.id, `v${e.version}`, e.fields.join(',') || '-', e.setAt, e.setBy.name ?? e.setBy.id, `${e.ageDays}d`, `max ${e.maxAgeDays}d`, e.stale ? 'STALE' : 'fresh'].join('\t');
}

function onePositional(rest: string[], message: string): string {
  const { positionals } = parseArgs({ args: rest, options: {}, strict: true, allowPositionals: true });
  if (positionals.length !== 1) throw usage(message);
  return positionals[0]!;
}

function usage(message: string): AppError {
  return new AppError('invalid_request', { publicMessage: message });
}
