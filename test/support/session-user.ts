import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Role, SessionUser } from '../../src/identity/index.js';
import type { Tables } from '../../src/store/index.js';

/** A users row written directly (no Users service needed), and the session snapshot for it. jsonb as text: pg would send an array as a PostgreSQL array. */
export async function insertSessionUser(db: Kysely<Tables>, options: { username?: string; roles?: Role[] } = {}): Promise<SessionUser> {
  const id = randomUUID();
  const username = options.username ?? `user-${id.slice(0, 8)}`;
  const roles = options.roles ?? ['operator'];
  const now = Date.now();
  await db
    .insertInto('users')
    .values({ id, username, display_name: `Name of ${username}`, email: `${username}@example.test`, roles: sql<string[]>`${JSON.stringify(roles)}::jsonb`, source: 'local', created_at_ms: now, updated_at_ms: now })
    .execute();
  return { id, username, name: `Name of ${username}`, email: `${username}@example.test`, kind: 'person', roles, groups: [] };
}

/** A bare local users row (no email, no roles, timestamps 0), for services that only need a user id to exist. */
export async function insertPlainUser(db: Kysely<Tables>, username: string): Promise<string> {
  const id = randomUUID();
  await db
    .insertInto('users')
    .values({ id, username, display_name: username, source: 'local', email: null, oidc_issuer: null, oidc_subject: null, password_hash: null, totp_secret_sealed: null, totp_enabled_at_ms: null, totp_last_step: null, disabled_at_ms: null, created_at_ms: 0, updated_at_ms: 0, last_login_at_ms: null })
    .execute();
  return id;
}
