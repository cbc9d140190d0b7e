import { readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatChange, importPolicy, POLICY_MAX_BYTES } from '../../access/index.js';
import { AppError, randomIds, systemClock } from '../../core/index.js';
import type { Principal } from '../../identity/index.js';
import { ADMIN_SOCKET_NAME, forwardToServer } from '../admin-socket.js';
import { loadCliConfig, withServices, type CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { writeLine } from '../io.js';

/**
 * `webasset import FILE [--dry-run]`: applies a declarative policy file and
 * prints the diff. With the embedded database held by a running server, it
 * runs inside that server (admin socket) with the file's absolute path.
 */
export async function importCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { 'dry-run': { type: 'boolean' } }, strict: true, allowPositionals: true });
  const given = positionals[0];
  if (positionals.length !== 1 || !given) throw usage('import needs one policy file: webasset import policy.yaml [--dry-run]');
  const path = isAbsolute(given) ? given : resolve(ctx.io.cwd, given);
  const dryRun = values['dry-run'] === true;
  const source = readPolicy(path);
  const by: Principal = { kind: 'user', id: ctx.actor.id, name: ctx.actor.name ?? ctx.actor.id, roles: ['admin'], groups: [], via: 'cli', mfa: true };
  try {
    const result = await withServices(ctx, (s) =>
      importPolicy(
        {
          db: s.database.db,
          trail: s.audit.trail,
          clock: systemClock,
          ids: randomIds,
          effects: {
            endSessions: (userId, who, reason) => s.sessions.revokeAllForUser(userId, who, reason),
            async refreshSessions(userId) {
              const snapshot = await s.users.sessionUser(userId);
              if (snapshot) await s.sessions.refreshUser(snapshot);
            },
          },
        },
        { source, fileName: basename(path), dryRun, by },
      ),
    );
    for (const change of result.changes) writeLine(ctx.io.stdout, formatChange(change));
    // The file's own text (a step's command) could carry control characters: shown escaped, never run by the terminal.
    for (const warning of result.warnings) writeLine(ctx.io.stderr, `warning: ${warning.replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}`);
    const verb = dryRun ? 'would change' : 'changed';
    writeLine(ctx.io.stderr, result.changes.length === 0 ? 'No changes: the database already matches the file.' : `${result.changes.length} ${verb}${dryRun ? ' (dry run: nothing was changed)' : ''}.`);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof AppError && error.code === 'embedded_database_locked' && !ctx.services) {
      const forwarded = await forwardToServer(join(loadCliConfig(ctx).config.dataDir, ADMIN_SOCKET_NAME), ['import', path, ...(dryRun ? ['--dry-run'] : [])], ctx.actor, ctx.io);
      if (forwarded !== null) return forwarded;
    }
    throw error;
  }
}

function readPolicy(path: string): string {
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new Error('not a file');
    size = stat.size;
  } catch {
    throw usage(`cannot read the policy file ${JSON.stringify(basename(path))}`);
  }
  if (size > POLICY_MAX_BYTES) throw usage(`the policy file is larger than ${POLICY_MAX_BYTES} bytes`);
  return readFileSync(path, 'utf8');
}

function usage(message: string): AppError {
  return new AppError('invalid_request', { publicMessage: message });
}
