import { createHash } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { AppError, type Clock, type IdGenerator } from '../core/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { ApiTokenRow, Tables } from '../store/index.js';
import { ROLES, type Principal, type Role } from './principal.js';
import { ROLE_TOKEN_DEFAULT_SCOPES, TOKEN_SCOPE_NAMES, isTokenScope, type TokenScope } from './token-scopes.js';
import { SERVICE_ACCOUNT_ROLES, jsonb, type UserSnapshot } from './users.js';

/** Request facts for the audit record of a change made over HTTP. */
export interface TokenChangeContext {
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
  requestId?: string | undefined;
}

export interface CreateTokenInput {
  /** What the token is for, as people will recognize it in lists: 1 to 100 characters. */
  name: string;
  /** The service account (a user of kind `service`) the token acts as: its roles and groups apply. */
  serviceAccountId?: string | undefined;
  /** Without a service account: a bare role, for scripts (auditors' exports). */
  role?: Role | undefined;
  /** Required with a service account; a role token without it gets {@link ROLE_TOKEN_DEFAULT_SCOPES}. */
  scopes?: readonly string[] | undefined;
  /** 1 to {@link MAX_EXPIRY_DAYS}; default {@link DEFAULT_EXPIRY_DAYS}. Every new token expires. */
  expiresInDays?: number | undefined;
  /** An operator (a person) the service account acts for: it may then do only what both may. */
  onBehalfOfId?: string | undefined;
  createdBy: Principal;
  context?: TokenChangeContext | undefined;
}

/** What may be shown about a token: never its value or its hash. */
export interface TokenInfo {
  id: string;
  name: string;
  role: string;
  scopes: TokenScope[];
  serviceAccount: { id: string; username: string } | null;
  onBehalfOf: { id: string; username: string } | null;
  createdAt: string;
  createdBy: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revoked: boolean;
  revokedAt: string | null;
}

/** Bearer tokens for callers that are not a browser: agents (through service accounts) and scripts. */
export interface ApiTokens {
  /** Creates a token; the plain value is returned once and never stored. */
  create(input: CreateTokenInput): Promise<{ id: string; token: string; info: TokenInfo }>;
  /**
   * The principal a presented token stands for, or null when it is unknown,
   * revoked or expired, or when its service account or the operator it acts
   * for is disabled or gone. Read from the database at every call, so a
   * revocation holds at once on every node.
   */
  authenticate(token: string): Promise<Principal | null>;
  /** Revokes a token (revoking a revoked one does nothing); `not_found` when there is no such token. */
  revoke(id: string, by: Principal, context?: TokenChangeContext): Promise<void>;
  get(id: string): Promise<TokenInfo | null>;
  list(): Promise<TokenInfo[]>;
}

/** What tokens need from the users repository. */
export interface TokenUsersPort {
  /** Effective roles and groups; null when the user is unknown or disabled. */
  sessionUser(id: string): Promise<UserSnapshot | null>;
}

export interface ApiTokensDeps {
  db: Kysely<Tables>;
  trail: AuditTrail;
  clock: Clock;
  ids: IdGenerator;
  users: TokenUsersPort;
}

/** Recognizable prefix, so secret scanners and people can tell what leaked. */
export const TOKEN_PREFIX = 'wat_';
export const DEFAULT_EXPIRY_DAYS = 90;
export const MAX_EXPIRY_DAYS = 365;
/** last_used_at is written at most this often per token: the hot path reads, it does not write every request. */
export const LAST_USED_RESOLUTION_MS = 60_000;

const TOKEN_SHAPE = /^wat_[A-Za-z0-9_-]{43}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const DAY_MS = 86_400_000;

export function createApiTokens(deps: ApiTokensDeps): ApiTokens {
  const { db, trail, clock, ids, users } = deps;
  if (typeof users?.sessionUser !== 'function') throw new TypeError('createApiTokens: a users repository is required');
  const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

  const usernames = async (rows: ReadonlyArray<Selectable<ApiTokenRow>>): Promise<Map<string, string>> => {
    const wanted = [...new Set(rows.flatMap((r) => [r.user_id, r.on_behalf_of]).filter((id): id is string => id !== null))];
    if (wanted.length === 0) return new Map();
    const found = await db.selectFrom('users').select(['id', 'username']).where('id', 'in', wanted).execute();
    return new Map(found.map((u) => [u.id, u.username]));
  };
  const toInfo = (r: Selectable<ApiTokenRow>, names: Map<string, string>): TokenInfo => ({
    id: r.id,
    name: r.name,
    role: r.role,
    scopes: scopesOf(r),
    serviceAccount: r.user_id === null ? null : { id: r.user_id, username: names.get(r.user_id) ?? '(deleted)' },
    onBehalfOf: r.on_behalf_of === null ? null : { id: r.on_behalf_of, username: names.get(r.on_behalf_of) ?? '(deleted)' },
    createdAt: iso(r.created_at_ms),
    createdBy: r.created_by,
    expiresAt: r.expires_at_ms === null ? null : iso(r.expires_at_ms),
    lastUsedAt: r.last_used_at_ms === null ? null : iso(r.last_used_at_ms),
    revoked: r.revoked_at_ms !== null,
    revokedAt: r.revoked_at_ms === null ? null : iso(r.revoked_at_ms),
  });

  /** The steps of create: check the input, resolve the accounts, record, store. */
  const checkName = (name: unknown): string => {
    if (typeof name !== 'string' || name.trim() === '' || name.length > 100 || CONTROL.test(name)) {
      throw invalid('A token name of 1 to 100 characters (no control characters) is required.');
    }
    return name.trim();
  };
  const checkExpiry = (days: unknown): number => {
    if (days === undefined) return DEFAULT_EXPIRY_DAYS;
    if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > MAX_EXPIRY_DAYS) {
      throw invalid(`expiresInDays must be a whole number from 1 to ${MAX_EXPIRY_DAYS}.`);
    }
    return days;
  };
  const checkScopes = (scopes: readonly string[] | undefined, fallback: readonly TokenScope[] | null): TokenScope[] => {
    if (scopes === undefined || scopes.length === 0) {
      if (fallback) return [...fallback];
      throw invalid(`At least one scope is required: ${TOKEN_SCOPE_NAMES.join(', ')}.`);
    }
    const unknown = scopes.filter((s) => !isTokenScope(s));
    if (unknown.length > 0) throw invalid(`Unknown scope; expected some of ${TOKEN_SCOPE_NAMES.join(', ')}.`);
    // Stored in the order of the registry, once each: lists and audit records compare equal.
    return TOKEN_SCOPE_NAMES.filter((s) => scopes.includes(s));
  };
  const activeUser = async (id: string | undefined, kind: 'service' | 'person', label: string): Promise<UserSnapshot> => {
    const user = typeof id === 'string' && UUID.test(id) ? await users.sessionUser(id) : null;
    if (!user || user.kind !== kind) throw invalid(`${label} must be an enabled ${kind === 'service' ? 'service account' : 'person'}.`);
    return user;
  };

  return {
    async create(input) {
      const name = checkName(input.name);
      const expiresInDays = checkExpiry(input.expiresInDays);
      const withAccount = input.serviceAccountId !== undefined;
      if (withAccount === (input.role !== undefined)) throw invalid('Give either a service account or a role, not both.');
      if (input.role !== undefined && !ROLES.includes(input.role)) throw invalid(`Unknown role; expected one of ${ROLES.join(', ')}.`);
      if (!withAccount && input.onBehalfOfId !== undefined) throw invalid('onBehalfOf needs a service account.');
      const scopes = checkScopes(input.scopes, withAccount ? null : input.role === 'agent' ? [...ROLE_TOKEN_DEFAULT_SCOPES, 'mcp'] : ROLE_TOKEN_DEFAULT_SCOPES);
      const account = withAccount ? await activeUser(input.serviceAccountId, 'service', 'serviceAccount') : null;
      const operator = input.onBehalfOfId === undefined ? null : await activeUser(input.onBehalfOfId, 'person', 'onBehalfOf');
      // The role column says what kind of caller this is; a service account's token acts with the agent role
      // at most (principalOf), and the account's groups are read live at each use.
      const role: Role = account ? 'agent' : input.role!;

      const id = ids.uuid();
      const token = `${TOKEN_PREFIX}${ids.token(32)}`;
      const now = clock.now();
      const expiresAt = now + expiresInDays * DAY_MS;
      const by = input.createdBy;
      await trail.record({
        actor: { kind: by.kind, id: by.id, name: by.name },
        action: 'token.created',
        outcome: 'success',
        target: { kind: 'api_token', id },
        details: {
          name,
          role,
          scopes,
          serviceAccount: account ? { id: account.id, username: account.username } : null,
          onBehalfOf: operator ? { id: operator.id, username: operator.username } : null,
          expiresAt: iso(expiresAt),
        },
        ...input.context,
      });
      const row = {
        id,
        name,
        role,
        token_hash: hashOf(token),
        created_at_ms: now,
        created_by: by.id,
        expires_at_ms: expiresAt,
        revoked_at_ms: null,
        last_used_at_ms: null,
        scopes,
        user_id: account?.id ?? null,
        on_behalf_of: operator?.id ?? null,
      };
      await db
        .insertInto('api_tokens')
        .values({ ...row, scopes: jsonb(scopes) })
        .execute();
      const names = new Map([account, operator].filter((u): u is UserSnapshot => u !== null).map((u) => [u.id, u.username]));
      return { id, token, info: toInfo(row, names) };
    },

    async authenticate(token) {
      if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) return null;
      const row = await db.selectFrom('api_tokens').selectAll().where('token_hash', '=', hashOf(token)).executeTakeFirst();
      const now = clock.now();
      if (!row || row.revoked_at_ms !== null || (row.expires_at_ms !== null && row.expires_at_ms <= now)) return null;
      const principal = await principalOf(row);
      if (!principal) return null;
      if (row.last_used_at_ms === null || now - row.last_used_at_ms >= LAST_USED_RESOLUTION_MS) {
        // Conditional, so that nodes racing on one token write once per resolution between them.
        await db
          .updateTable('api_tokens')
          .set({ last_used_at_ms: now })
          .where('id', '=', row.id)
          .where((eb) => eb.or([eb('last_used_at_ms', 'is', null), eb('last_used_at_ms', '<=', now - LAST_USED_RESOLUTION_MS)]))
          .execute();
      }
      return principal;
    },

    async revoke(id, by, context) {
      const row = UUID.test(id) ? await db.selectFrom('api_tokens').select(['id', 'name', 'revoked_at_ms']).where('id', '=', id).executeTakeFirst() : undefined;
      if (!row) throw new AppError('not_found', { publicMessage: 'No such token.' });
      if (row.revoked_at_ms !== null) return;
      await trail.record({
        actor: { kind: by.kind, id: by.id, name: by.name },
        action: 'token.revoked',
        outcome: 'success',
        target: { kind: 'api_token', id },
        details: { name: row.name },
        ...context,
      });
      await db.updateTable('api_tokens').set({ revoked_at_ms: clock.now() }).where('id', '=', id).where('revoked_at_ms', 'is', null).execute();
    },

    async get(id) {
      if (!UUID.test(id)) return null;
      const row = await db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toInfo(row, await usernames([row])) : null;
    },

    async list() {
      const rows = await db.selectFrom('api_tokens').selectAll().orderBy('created_at_ms').orderBy('id').execute();
      const names = await usernames(rows);
      return rows.map((r) => toInfo(r, names));
    },
  };

  /**
   * A service account's token is its account: roles and groups read now, so a change or a disable holds at once.
   * Its roles are only ever `agent` (the role the token is listed with): a bearer token carries no second factor,
   * so a role another path gave the account (an old row, a group) is dropped here, fail closed.
   */
  async function principalOf(row: Selectable<ApiTokenRow>): Promise<Principal | null> {
    const scopes = scopesOf(row);
    if (row.user_id === null) {
      const role = row.role as Role;
      if (!ROLES.includes(role)) return null;
      return { kind: role === 'agent' ? 'agent' : 'user', id: `token:${row.id}`, name: row.name, roles: [role], groups: [], via: 'api_token', mfa: false, tokenId: row.id, scopes };
    }
    const account = await users.sessionUser(row.user_id);
    if (!account || account.kind !== 'service') return null;
    let onBehalfOf: Principal['onBehalfOf'];
    if (row.on_behalf_of !== null) {
      const operator = await users.sessionUser(row.on_behalf_of);
      if (!operator || operator.kind !== 'person') return null;
      onBehalfOf = { id: operator.id, name: operator.name, roles: operator.roles, groups: operator.groups };
    }
    return {
      kind: 'agent',
      id: account.id,
      name: account.name,
      username: account.username,
      email: account.email,
      roles: account.roles.filter((r) => SERVICE_ACCOUNT_ROLES.includes(r)),
      groups: account.groups,
      via: 'api_token',
      mfa: false,
      tokenId: row.id,
      scopes,
      onBehalfOf,
    };
  }
}

/** A row's scopes; a token from before scopes existed keeps the REST API it always had. */
function scopesOf(row: Selectable<ApiTokenRow>): TokenScope[] {
  const stored = Array.isArray(row.scopes) ? row.scopes.filter(isTokenScope) : [];
  if (stored.length === 0 && row.user_id === null) return [...ROLE_TOKEN_DEFAULT_SCOPES];
  return stored;
}

function invalid(message: string): AppError {
  return new AppError('invalid_request', { publicMessage: message });
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
