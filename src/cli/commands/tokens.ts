import { parseArgs } from 'node:util';
import { AppError } from '../../core/index.js';
import { ROLES, type Principal, type Role } from '../../identity/index.js';
import { withServices, type CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { writeLine } from '../io.js';

export async function tokensCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const actor = ctx.actor;
  const by: Principal = { kind: 'user', id: actor.id, name: actor.name ?? actor.id, roles: ['admin'], groups: [], via: 'cli', mfa: true };
  switch (sub) {
    case 'create': {
      const { values } = parseArgs({
        args: rest,
        options: { name: { type: 'string' }, role: { type: 'string' }, 'expires-days': { type: 'string' } },
        strict: true,
        allowPositionals: false,
      });
      if (!values.name || !values.role) throw usage('tokens create needs --name and --role');
      if (!(ROLES as readonly string[]).includes(values.role)) throw usage(`--role must be one of ${ROLES.join(', ')}`);
      const days = values['expires-days'] === undefined ? undefined : Number(values['expires-days']);
      if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > 3650)) throw usage('--expires-days must be a whole number from 1 to 3650');
      const created = await withServices(ctx, (s) => s.tokens.create({ name: values.name!, role: values.role as Role, createdBy: by, expiresInDays: days }));
      writeLine(ctx.io.stderr, `Created token ${created.id} (${values.role}). It is shown once; store it now:`);
      writeLine(ctx.io.stdout, created.token);
      return EXIT.ok;
    }
    case 'revoke': {
      const { positionals } = parseArgs({ args: rest, options: {}, strict: true, allowPositionals: true });
      const id = positionals[0];
      if (positionals.length !== 1 || !id || !/^[0-9a-f-]{36}$/i.test(id)) throw usage('tokens revoke needs one token id');
      await withServices(ctx, (s) => s.tokens.revoke(id, by));
      writeLine(ctx.io.stdout, `revoked ${id}`);
      return EXIT.ok;
    }
    case 'list': {
      parseArgs({ args: rest, options: {}, strict: true, allowPositionals: false });
      const tokens = await withServices(ctx, (s) => s.tokens.list());
      for (const t of tokens) {
        writeLine(ctx.io.stdout, [t.id, t.role, t.revoked ? 'revoked' : 'active', t.createdAt, t.expiresAt ?? '-', t.name].join('\t'));
      }
      return EXIT.ok;
    }
    default:
      throw usage('expected: tokens create|list|revoke');
  }
}

function usage(message: string): AppError {
  return new AppError('invalid_request', { publicMessage: message });
}
