import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AppError, type Clock, type IdGenerator } from '../core/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { Tables } from '../store/index.js';
import { ROLES, type Principal, type Role } from './principal.js';

/** Bearer tokens for callers that are not a browser: scripts of auditors, agents. */
export interface ApiTokens {
  /** Creates a token; the plain value is returned once and never stored. */
  create(input: { name: string; role: Role; createdBy: Principal; expiresInDays?: number | undefined }): Promise<{ id: string; token: string }>;
  /** The principal a presented token stands for, or null when unknown, revoked or expired. */
  authenticate(token: string): Promise<Principal | null>;
  revoke(id: string, by: Principal): Promise<void>;
  list(): Promise<Array<{ id: string; name: string; role: string; createdAt: string; expiresAt: string | null; revoked: boolean }>>;
}

export interface ApiTokensDeps {
  db: Kysely<Tables>;
  trail: AuditTrail;
  clock: Clock;
  ids: IdGenerator;
}

/** Recognizable prefix, so secret scanners and people can tell what leaked. */
export const TOKEN_PREFIX = 'wat_';
const TOKEN_SHAPE = /^wat_[A-Za-z0-9_-]{43}$/;
const DAY_MS = 86_400_000;

export function createApiTokens(deps: ApiTokensDeps): ApiTokens {
  const { db, trail, clock, ids } = deps;
  const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

  return {
    async create({ name, role, createdBy, expiresInDays }) {
      if (!ROLES.includes(role)) throw new AppError('invalid_request', { publicMessage: `Unknown role; expected one of ${ROLES.join(', ')}.` });
      if (name.trim() === '' || name.length > 100) throw new AppError('invalid_request', { publicMessage: 'A token name of 1 to 100 characters is required.' });
      const id = ids.uuid();
      const token = `${TOKEN_PREFIX}${ids.token(32)}`;
      const now = clock.now();
      await trail.record({
        actor: { kind: createdBy.kind, id: createdBy.id, name: createdBy.name },
        action: 'token.created',
        outcome: 'success',
        target: { kind: 'api_token', id },
        details: { name, role, expiresInDays: expiresInDays ?? null },
      });
      await db
        .insertInto('api_tokens')
        .values({
          id,
          name,
          role,
          token_hash: hashOf(token),
          created_at_ms: now,
          created_by: createdBy.id,
          expires_at_ms: expiresInDays ? now + expiresInDays * DAY_MS : null,
          revoked_at_ms: null,
        })
        .execute();
      return { id, token };
    },

    async authenticate(token) {
      if (!TOKEN_SHAPE.test(token)) return null;
      const row = await db.selectFrom('api_tokens').selectAll().where('token_hash', '=', hashOf(token)).executeTakeFirst();
      const now = clock.now();
      if (!row || row.revoked_at_ms !== null || (row.expires_at_ms !== null && row.expires_at_ms <= now)) return null;
      const role = row.role as Role;
      return { kind: role === 'agent' ? 'agent' : 'user', id: `token:${row.id}`, name: row.name, roles: [role], groups: [], via: 'api_token', mfa: false, tokenId: row.id };
    },

    async revoke(id, by) {
      const row = await db.selectFrom('api_tokens').select(['id', 'revoked_at_ms']).where('id', '=', id).executeTakeFirst();
      if (!row) throw new AppError('not_found', { publicMessage: 'No such token.' });
      if (row.revoked_at_ms !== null) return;
      await trail.record({ actor: { kind: by.kind, id: by.id, name: by.name }, action: 'token.revoked', outcome: 'success', target: { kind: 'api_token', id } });
      await db.updateTable('api_tokens').set({ revoked_at_ms: clock.now() }).where('id', '=', id).execute();
    },

    async list() {
      const rows = await db.selectFrom('api_tokens').selectAll().orderBy('created_at_ms').execute();
      return rows.map((r) => ({
        id: r.id,
        name: r.name,
        role: r.role,
        createdAt: new Date(r.created_at_ms).toISOString(),
        expiresAt: r.expires_at_ms === null ? null : new Date(r.expires_at_ms).toISOString(),
        revoked: r.revoked_at_ms !== null,
      }));
    },
  };
}
