import type { Services } from '../../app.js';
import type { Actor } from '../../audit/index.js';
import { AppError } from '../../core/index.js';
import { createDemoPortal, DEMO_CREDENTIALS } from '../../demo-portal/index.js';
import type { Principal } from '../../identity/index.js';

/** The quickstart's demo asset and its vault entry share one id. */
export const DEMO_ASSET_ID = 'demo-bank';

export interface SeedInput {
  /** Base URL the demo portal listens on, e.g. http://127.0.0.1:8090. */
  url: string;
  credentials: { username: string; password: string; totpSeed?: string | undefined };
  /** Username to grant connect and watch; undefined: the first administrator, if there is one. */
  grantTo: string | undefined;
}

/**
 * Makes the demo portal usable from the product, idempotently: a vault entry with its credentials
 * (kept if it exists: an administrator may have changed it), the asset `demo-bank` (created, or
 * pointed at `url`), and connect + watch for one user. Returns one line per thing done.
 */
export async function seedDemoPortal(services: Services, input: SeedInput, actor: Actor, by: Principal): Promise<string[]> {
  const lines: string[] = [];
  if (await services.vault.get(DEMO_ASSET_ID)) lines.push(`vault entry ${DEMO_ASSET_ID}: kept`);
  else {
    const { username, password, totpSeed } = input.credentials;
    const values = new Map([
      ['username', Buffer.from(username, 'utf8')],
      ['password', Buffer.from(password, 'utf8')],
      ...(totpSeed ? [['totpSeed', Buffer.from(totpSeed, 'ascii')] as [string, Buffer]] : []),
    ]);
    await services.vault.set({ entryId: DEMO_ASSET_ID, values }, actor);
    lines.push(`vault entry ${DEMO_ASSET_ID}: created (username, password${totpSeed ? ', totpSeed' : ''})`);
  }

  const base = new URL(input.url);
  const definition = {
    url: base.origin,
    allowedHosts: [base.hostname],
    // The TOTP variant shows the whole flow; the automatic recipe handles its code step.
    startUrl: `${base.origin}/login-totp`,
    credential: DEMO_ASSET_ID,
    loginRecipe: null,
    successCheck: { selector: '#balance' },
    failureCheck: { selector: '#login-error' },
    // A demo on the loopback interface: no TLS. Real portals keep the default (https only).
    allowInsecureHttp: true,
  };
  if (await services.assets.get(DEMO_ASSET_ID)) {
    await services.assets.update(DEMO_ASSET_ID, definition, by);
    lines.push(`asset ${DEMO_ASSET_ID}: pointed at ${base.origin}`);
  } else {
    await services.assets.create({ id: DEMO_ASSET_ID, name: 'Demo Bank', ...definition }, by);
    lines.push(`asset ${DEMO_ASSET_ID}: created for ${base.origin}`);
  }

  const user = input.grantTo === undefined ? await firstAdministrator(services) : await services.users.findByUsername(input.grantTo);
  if (!user) {
    if (input.grantTo !== undefined) throw new AppError('not_found', { publicMessage: `no user named ${input.grantTo}` });
    lines.push('permission: none yet (no administrator); run `webasset users create --admin ...`, then this again');
    return lines;
  }
  const existing = await services.grants.list({ assetId: DEMO_ASSET_ID, subjectKind: 'user', subjectId: user.id });
  if (existing.length > 0) lines.push(`permission for ${user.username}: kept`);
  else {
    await services.grants.create({ subjectKind: 'user', subjectId: user.id, assetId: DEMO_ASSET_ID, actions: ['connect', 'watch'] }, by);
    lines.push(`permission for ${user.username}: connect, watch`);
  }
  return lines;
}

/** The CLI's actor as an administrator principal (whoever runs the CLI on the host owns the data folder). */
export function cliPrincipal(actor: Actor): Principal {
  return { kind: 'user', id: actor.id, name: actor.name ?? actor.id, roles: ['admin'], groups: [], via: 'cli', mfa: true };
}

/**
 * `WEBASSET_DEMO_PORTAL_PORT` (development only): the demo portal beside the server, seeded with the
 * built-in account, announced at warn. Resolves to the function that stops it.
 */
export async function startDemoPortalBeside(services: Services, port: number, actor: Actor): Promise<() => Promise<void>> {
  const portal = createDemoPortal(DEMO_CREDENTIALS);
  const url = await portal.start(port, '127.0.0.1');
  try {
    const seeded = await seedDemoPortal(services, { url, credentials: DEMO_CREDENTIALS, grantTo: undefined }, actor, cliPrincipal(actor));
    services.logger.warn({ url, done: seeded }, 'DEVELOPMENT: demo portal started beside the server (WEBASSET_DEMO_PORTAL_PORT); never set it in production');
  } catch (error) {
    await portal.stop();
    throw error;
  }
  return () => portal.stop();
}

async function firstAdministrator(services: Services) {
  const admins = (await services.users.list()).filter((user) => user.roles.includes('admin') && user.kind === 'person');
  return admins.sort((a, b) => a.createdAt.localeCompare(b.createdAt))[0];
}
