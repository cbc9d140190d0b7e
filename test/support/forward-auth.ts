import { randomUUID } from 'node:crypto';
import type { Principal, Role, SessionUser } from '../../src/identity/index.js';
import type { TestServer } from './server.js';

const CLI_ADMIN: Principal = { kind: 'user', id: randomUUID(), name: 'test', roles: ['admin'], groups: [], via: 'cli', mfa: true };

/**
 * A user and a signed-in web session with the given groups, as a password or SSO sign-in would leave them
 * (the session carries the principal snapshot a ForwardAuth check reads). Group ids are made up: a check reads names.
 */
export async function signedInUser(
  t: TestServer,
  input: { username: string; email?: string | null; roles?: Role[]; groups?: string[] },
): Promise<{ cookieValue: string; sessionId: string; user: SessionUser }> {
  const roles = input.roles ?? [];
  const record = await t.services.users.create({ username: input.username, email: input.email ?? null, source: 'local', roles }, CLI_ADMIN);
  const user: SessionUser = {
    id: record.id,
    username: record.username,
    name: record.displayName,
    email: record.email,
    kind: 'person',
    roles,
    groups: (input.groups ?? []).map((name) => ({ id: randomUUID(), name })),
  };
  const session = await t.services.sessions.create({ user, mfa: true, method: 'password', context: {} });
  return { cookieValue: session.cookieValue, sessionId: session.sessionId, user };
}
