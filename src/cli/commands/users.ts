import { parseArgs } from 'node:util';
import type { Services } from '../../app.js';
import { AppError } from '../../core/index.js';
import { ROLES, type Principal, type Role, type UserRecord } from '../../identity/index.js';
import { withServices, type CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { writeLine } from '../io.js';

/**
 * `webasset users ...`: bootstrap the first administrator and look after local accounts from the
 * host. Nothing here prints or accepts a password: a new user gets a one-time enrolment link.
 */
export async function usersCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const actor = ctx.actor;
  const by: Principal = { kind: 'user', id: actor.id, name: actor.name ?? actor.id, roles: ['admin'], groups: [], via: 'cli', mfa: true };
  switch (sub) {
    case 'create': {
      const { values } = parseArgs({
        args: rest,
        options: {
          username: { type: 'string' },
          email: { type: 'string' },
          name: { type: 'string' },
          admin: { type: 'boolean' },
          role: { type: 'string', multiple: true },
          'mfa-required': { type: 'boolean' },
        },
        strict: true,
        allowPositionals: false,
      });
      if (!values.username) throw usage('users create needs --username');
      const roles = new Set<string>(values.role ?? []);
      if (values.admin) roles.add('admin');
      if (roles.size === 0) throw usage('users create needs --admin or --role ROLE');
      for (const role of roles) if (!(ROLES as readonly string[]).includes(role)) throw usage(`--role must be one of ${ROLES.join(', ')}`);
      const link = await withServices(ctx, async (s) => {
        const user = await s.users.create(
          { username: values.username!, displayName: values.name, email: values.email ?? null, roles: [...roles] as Role[], source: 'local', mfaRequired: values['mfa-required'] },
          by,
        );
        return { user, ...(await s.users.createEnrolmentLink(user.id, 'enrol', by)) };
      });
      writeLine(ctx.io.stderr, `Created user ${link.user.username} (${link.user.roles.join(', ')}). Send them this one-time enrolment link (valid until ${link.expiresAt}):`);
      writeLine(ctx.io.stdout, link.url);
      return EXIT.ok;
    }
    case 'list': {
      const { values } = parseArgs({ args: rest, options: { all: { type: 'boolean' } }, strict: true, allowPositionals: false });
      const users = await withServices(ctx, (s) => s.users.list({ includeDisabled: values.all ?? false }));
      for (const u of users) writeLine(ctx.io.stdout, row(u));
      return EXIT.ok;
    }
    case 'disable': {
      const { values, positionals } = parseArgs({ args: rest, options: { reason: { type: 'string' } }, strict: true, allowPositionals: true });
      const username = onePositional(positionals, 'users disable needs one username');
      await withServices(ctx, async (s) => s.users.disable((await find(s, username)).id, by, values.reason ?? 'disabled from the command line'));
      writeLine(ctx.io.stdout, `disabled ${username}; their sessions have ended`);
      return EXIT.ok;
    }
    case 'enable': {
      const { positionals } = parseArgs({ args: rest, options: {}, strict: true, allowPositionals: true });
      const username = onePositional(positionals, 'users enable needs one username');
      await withServices(ctx, async (s) => s.users.enable((await find(s, username)).id, by));
      writeLine(ctx.io.stdout, `enabled ${username}`);
      return EXIT.ok;
    }
    case 'reset-mfa': {
      const { positionals } = parseArgs({ args: rest, options: {}, strict: true, allowPositionals: true });
      const username = onePositional(positionals, 'users reset-mfa needs one username');
      const reset = await withServices(ctx, async (s) => s.users.resetMfa((await find(s, username)).id, by));
      writeLine(ctx.io.stderr, `MFA of ${username} was reset and their sessions ended. Send them this one-time link to enrol again (valid until ${reset.expiresAt}):`);
      writeLine(ctx.io.stdout, reset.enrolmentUrl);
      return EXIT.ok;
    }
    case 'unlock': {
      const { positionals } = parseArgs({ args: rest, options: {}, strict: true, allowPositionals: true });
      const username = onePositional(positionals, 'users unlock needs one username');
      const wasLocked = await withServices(ctx, (s) => s.accounts.signIn.unlock(username, by));
      writeLine(ctx.io.stdout, wasLocked ? `unlocked ${username}` : `${username} was not locked; failed attempts forgotten`);
      return EXIT.ok;
    }
    case 'enrolment-link': {
      const { positionals } = parseArgs({ args: rest, options: {}, strict: true, allowPositionals: true });
      const username = onePositional(positionals, 'users enrolment-link needs one username');
      const link = await withServices(ctx, async (s) => s.users.createEnrolmentLink((await find(s, username)).id, 'enrol', by));
      writeLine(ctx.io.stderr, `A new one-time enrolment link for ${username} (earlier links stop working; valid until ${link.expiresAt}):`);
      writeLine(ctx.io.stdout, link.url);
      return EXIT.ok;
    }
    default:
      throw usage('expected: users create|list|disable|enable|reset-mfa|unlock|enrolment-link');
  }
}

async function find(services: Services, username: string): Promise<UserRecord> {
  const user = await services.users.findByUsername(username);
  if (!user) throw new AppError('not_found', { publicMessage: 'No such user.' });
  return user;
}

function row(u: UserRecord): string {
  const state = [u.disabled ? 'disabled' : 'active', u.mfaEnrolled ? 'mfa' : u.mfaRequired ? 'mfa-required' : 'no-mfa'].join(',');
  return [u.id, u.username, u.roles.join(',') || '-', state, u.source, u.email ?? '-', u.lastLoginAt ?? '-'].join('\t');
}

function onePositional(positionals: string[], message: string): string {
  if (positionals.length !== 1 || !positionals[0]) throw usage(message);
  return positionals[0];
}

function usage(message: string): AppError {
  return new AppError('invalid_request', { publicMessage: message });
}
