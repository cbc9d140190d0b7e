import { parseArgs } from 'node:util';
import type { Services } from '../../app.js';
import { AppError } from '../../core/index.js';
import { MAX_EXPIRY_DAYS, ROLES, TOKEN_SCOPE_NAMES, type Principal, type Role, type TokenInfo } from '../../identity/index.js';
import { withServices, type CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { writeLine } from '../io.js';

const CREATE_OPTIONS = {
  name: { type: 'string' },
  role: { type: 'string' },
  scope: { type: 'string', multiple: true },
  'expires-days': { type: 'string' },
  'service-account': { type: 'string' },
  'create-service-account': { type: 'boolean' },
  'on-behalf-of': { type: 'string' },
} as const;

export async function tokensCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const actor = ctx.actor;
  const by: Principal = { kind: 'user', id: actor.id, name: actor.name ?? actor.id, roles: ['admin'], groups: [], via: 'cli', mfa: true };
  switch (sub) {
    case 'create': {
      const { values } = parseArgs({ args: rest, options: CREATE_OPTIONS, strict: true, allowPositionals: false });
      if (!values.name) throw usage('tokens create needs --name');
      const account = values['service-account'];
      if ((account === undefined) === (values.role === undefined)) throw usage('tokens create needs either --service-account NAME or --role ROLE');
      if (values.role !== undefined && !(ROLES as readonly string[]).includes(values.role)) throw usage(`--role must be one of ${ROLES.join(', ')}`);
      if (values['create-service-account'] && account === undefined) throw usage('--create-service-account goes with --service-account NAME');
      if (values['on-behalf-of'] !== undefined && account === undefined) throw usage('--on-behalf-of needs --service-account');
      for (const scope of values.scope ?? []) {
        if (!(TOKEN_SCOPE_NAMES as readonly string[]).includes(scope)) throw usage(`--scope must be one of ${TOKEN_SCOPE_NAMES.join(', ')} (repeat it for several)`);
      }
      const daysText = values['expires-days'];
      const days = daysText === undefined ? undefined : /^\d{1,4}$/.test(daysText) ? Number(daysText) : NaN;
      if (days !== undefined && !(days >= 1 && days <= MAX_EXPIRY_DAYS)) throw usage(`--expires-days must be a whole number from 1 to ${MAX_EXPIRY_DAYS}`);

      const created = await withServices(ctx, async (s) => {
        const serviceAccountId = account === undefined ? undefined : await serviceAccount(s, account, values['create-service-account'] === true, by);
        const onBehalfOfId = values['on-behalf-of'] === undefined ? undefined : (await existing(s, values['on-behalf-of'])).id;
        return s.tokens.create({ name: values.name!, role: values.role as Role | undefined, serviceAccountId, onBehalfOfId, scopes: values.scope, expiresInDays: days, createdBy: by });
      });
      const who = created.info.serviceAccount ? `service account ${created.info.serviceAccount.username}` : created.info.role;
      writeLine(ctx.io.stderr, `Created token ${created.id} (${who}; scopes ${created.info.scopes.join(' ')}; expires ${created.info.expiresAt}). It is shown once; store it now:`);
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
      for (const t of tokens) writeLine(ctx.io.stdout, listLine(t));
      return EXIT.ok;
    }
    default:
      throw usage('expected: tokens create|list|revoke');
  }
}

/** Tab-separated: id, role, state, created, expires, last used, scopes, account (or -), on behalf of (or -), name. */
function listLine(t: TokenInfo): string {
  const state = t.revoked ? 'revoked' : 'active';
  const scopes = t.scopes.join(',') || '-';
  return [t.id, t.role, state, t.createdAt, t.expiresAt ?? '-', t.lastUsedAt ?? '-', scopes, t.serviceAccount?.username ?? '-', t.onBehalfOf?.username ?? '-', t.name].join('\t');
}

async function existing(services: Services, username: string) {
  const user = await services.users.findByUsername(username);
  if (!user) throw new AppError('not_found', { publicMessage: `No user ${username}.` });
  return user;
}

/** The service account's id; created (role agent) only when asked, so a typo never makes a stray account. */
async function serviceAccount(services: Services, username: string, create: boolean, by: Principal): Promise<string> {
  const found = await services.users.findByUsername(username);
  if (found) return found.id;
  if (!create) throw new AppError('not_found', { publicMessage: `No service account ${username}; add --create-service-account to create it.` });
  const created = await services.users.create({ username, kind: 'service', roles: ['agent'], source: 'local' }, by);
  return created.id;
}

function usage(message: string): AppError {
  return new AppError('invalid_request', { publicMessage: message });
}
