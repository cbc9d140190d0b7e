import { createHash } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import { AppError, type Clock, type IdGenerator } from '../core/index.js';
import type { Actor, AuditEventInput, AuditTrail } from '../audit/index.js';
import type { Tables, UserRow } from '../store/index.js';
import type { AccessRevokedPort } from './access-revocations.js';
import { ROLES, type GroupRef, type Principal, type Role } from './principal.js';

/** A user as every caller sees it. It never carries a password hash, a TOTP seed or a recovery code. */
export interface UserRecord {
  id: string;
  username: string;
  displayName: string;
  email: string | null;
  kind: 'person' | 'service';
  /** Roles given directly (groups may add more: see {@link Users.sessionUser}). */
  roles: Role[];
  source: 'local' | 'oidc';
  mfaRequired: boolean;
  mfaEnrolled: boolean;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
  lastLoginAt: string | null;
}

/** The principal snapshot a web session carries (same shape as WebSessions' SessionUser). */
export interface UserSnapshot {
  id: string;
  username: string;
  name: string;
  email: string | null;
  kind: 'person' | 'service';
  /** Effective roles: the user's own and those of their groups. */
  roles: Role[];
  groups: GroupRef[];
}

/** Request facts an audit record carries, when the change came over HTTP. */
export interface UserChangeContext {
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
  requestId?: string | undefined;
}

export interface CreateUserInput {
  username: string;
  displayName?: string | undefined;
  email?: string | null | undefined;
  roles?: Role[] | undefined;
  kind?: 'person' | 'service' | undefined;
  source: 'local' | 'oidc';
  mfaRequired?: boolean | undefined;
}

export interface UpdateUserPatch {
  displayName?: string | undefined;
  email?: string | null | undefined;
  roles?: Role[] | undefined;
  mfaRequired?: boolean | undefined;
}

/** Local and provisioned accounts. Every change is audited (before it is made) with before/after. */
export interface Users {
  create(input: CreateUserInput, by: Principal, context?: UserChangeContext): Promise<UserRecord>;
  get(id: string): Promise<UserRecord | null>;
  findByUsername(username: string): Promise<UserRecord | null>;
  list(filter?: { includeDisabled?: boolean }): Promise<UserRecord[]>;
  update(id: string, patch: UpdateUserPatch, by: Principal, context?: UserChangeContext): Promise<{ before: UserRecord; after: UserRecord }>;
  /** Marks the user disabled and ends every session of theirs on every node. */
  disable(id: string, by: Principal, reason: string, context?: UserChangeContext): Promise<void>;
  enable(id: string, by: Principal, context?: UserChangeContext): Promise<void>;
  delete(id: string, by: Principal, context?: UserChangeContext): Promise<void>;
  /** Forgets the TOTP seed and recovery codes, ends the user's sessions, and returns a link to enrol again. */
  resetMfa(id: string, by: Principal, context?: UserChangeContext): Promise<{ enrolmentUrl: string; expiresAt: string }>;
  /** Upsert from an OIDC sign-in (issuer+subject), updating name and email. */
  provisionOidc(input: { issuer: string; subject: string; username: string; email: string | null; name: string }): Promise<UserRecord>;
  /** The session snapshot: effective roles (own ∪ groups') and groups; null when unknown or disabled. */
  sessionUser(id: string): Promise<UserSnapshot | null>;
  /**
   * A one-time link (48 h) to set a password and enrol TOTP (`enrol`) or to enrol TOTP again
   * (`reset_mfa`). Earlier unused links of the user stop working.
   */
  createEnrolmentLink(userId: string, purpose: 'enrol' | 'reset_mfa', by: Principal, context?: UserChangeContext): Promise<{ url: string; expiresAt: string }>;
  /**
   * Whether a link of the user ever had a TOTP step to do (`reset_mfa`: an administrator's reset,
   * or an `enrol` link past its password step). Of a user who is not enrolled, this means the
   * second factor is to be enrolled through such a link, not with the password alone.
   */
  enrolsByLink(userId: string): Promise<boolean>;
}

/** What Users needs from web sessions (helper A's WebSessions satisfies it). */
export interface UserSessionsPort {
  revokeAllForUser(userId: string, by: Principal | null, reason: string): Promise<number>;
  refreshUser?(user: UserSnapshot): Promise<void>;
}

export interface UsersDeps {
  db: Kysely<Tables>;
  trail: AuditTrail;
  clock: Clock;
  ids: IdGenerator;
  /** Ends sessions when a user is disabled, deleted or has MFA reset. */
  sessions: UserSessionsPort;
  /** Told when a disable or delete ends the user's access, so their browser sessions end too. */
  revocations?: AccessRevokedPort | undefined;
  /** Base of enrolment links: WEBASSET_PUBLIC_URL, or http://HOST:PORT. */
  publicUrl: string;
  /** Lifetime of an enrolment link; default 48 h. */
  enrolmentTtlMs?: number;
}

export const ENROLMENT_TTL_MS = 48 * 3_600_000;

/**
 * The only roles a service account may hold (issue 3, point 9: "service accounts (role agent)").
 * A service account authenticates with a bearer token and never with a second factor, so a role
 * that needs MFA (admin, auditor) or stands for a person (operator) would be held without it.
 */
export const SERVICE_ACCOUNT_ROLES: readonly Role[] = ['agent'];

/** Roles a service account may not hold, from a list of roles (empty when the list is allowed). */
export function forbiddenServiceAccountRoles(roles: readonly string[]): string[] {
  return roles.filter((r) => !(SERVICE_ACCOUNT_ROLES as readonly string[]).includes(r));
}

/** `service_account_role` (400) when a service account would hold a role other than `agent`; nothing is changed. */
export function assertServiceAccountRoles(kind: string, roles: readonly string[]): void {
  if (kind !== 'service') return;
  const forbidden = forbiddenServiceAccountRoles(roles);
  if (forbidden.length === 0) return;
  throw new AppError('service_account_role', {
    publicMessage: `A service account can hold only the agent role, not ${forbidden.join(', ')}; give this role to a person, who signs in with MFA.`,
    data: [{ field: 'roles', problem: `a service account holds only: ${SERVICE_ACCOUNT_ROLES.join(', ')}` }],
  });
}
/** Usernames: letters, digits and `. _ - @ +`, stored lower-case so `Alice` and `alice` are one account. */
const USERNAME_SHAPE = /^[a-z0-9][a-z0-9._@+-]{0,127}$/;
const EMAIL_SHAPE = /^[^\s@<>"]{1,64}@[^\s@<>"]{1,189}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Lower-case NFKC form of a username, or null when it cannot be one. */
export function normalizeUsername(input: string): string | null {
  if (typeof input !== 'string' || input.length > 512) return null;
  const value = input.normalize('NFKC').trim().toLowerCase();
  return USERNAME_SHAPE.test(value) ? value : null;
}

/** SHA-256 (hex) of an enrolment token: what the table stores. */
export function hashEnrolmentToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function createUsers(deps: UsersDeps): Users {
  const { db, trail, clock, ids, sessions } = deps;
  if (typeof sessions?.revokeAllForUser !== 'function') throw new TypeError('createUsers: sessions.revokeAllForUser is required');
  const base = checkPublicUrl(deps.publicUrl);
  const enrolmentTtlMs = deps.enrolmentTtlMs ?? ENROLMENT_TTL_MS;

  const rowById = (id: string) => (isUuid(id) ? db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst() : Promise.resolve(undefined));
  const mustExist = async (id: string) => {
    const row = await rowById(id);
    if (!row) throw new AppError('not_found', { publicMessage: 'No such user.' });
    return row;
  };

  const audit = (event: Omit<AuditEventInput, 'actor'>, by: Principal | null, context?: UserChangeContext) =>
    trail.record({ actor: actorOf(by), ...event, ...pickContext(context) });

  const effectiveRoles = async (userId: string, own: readonly string[]): Promise<{ roles: Role[]; groups: GroupRef[] }> => {
    const groups = await db
      .selectFrom('group_members as m')
      .innerJoin('groups as g', 'g.id', 'm.group_id')
      .select(['g.id', 'g.name', 'g.roles'])
      .where('m.user_id', '=', userId)
      .orderBy('g.name')
      .execute();
    const roles = new Set<string>(own);
    for (const g of groups) for (const r of g.roles) roles.add(r);
    return { roles: ROLES.filter((r) => roles.has(r)), groups: groups.map((g) => ({ id: g.id, name: g.name })) };
  };

  /** Enabled users who would still be effective admins without `exceptId` (or with its roles changed to `rolesIfKept`). */
  const assertAdminRemains = async (exceptId: string, rolesIfKept?: Role[]) => {
    // A service account never acts as an administrator (see sessionUser), so it does not keep one.
    const rows = await db.selectFrom('users').select(['id', 'roles']).where('disabled_at_ms', 'is', null).where('kind', '<>', 'service').execute();
    for (const row of rows) {
      const own = row.id === exceptId ? rolesIfKept : row.roles;
      if (own === undefined) continue;
      if ((await effectiveRoles(row.id, own)).roles.includes('admin')) return;
    }
    throw new AppError('last_admin');
  };
  const isEffectiveAdmin = async (row: Selectable<UserRow>) =>
    row.disabled_at_ms === null && row.kind !== 'service' && (await effectiveRoles(row.id, row.roles)).roles.includes('admin');

  const revokeSessions = async (userId: string, by: Principal | null, reason: string) => sessions.revokeAllForUser(userId, by, reason);
  /** Web sessions first (the cookie stops working), then what other modules hold for the user (browser sessions). */
  const revokeAccess = async (userId: string, by: Principal | null, reason: string, context?: UserChangeContext) => {
    await revokeSessions(userId, by, reason);
    await deps.revocations?.revoked({ userId, by, reason, context });
  };

  const refreshSessions = async (userId: string) => {
    if (!sessions.refreshUser) return;
    const snapshot = await sessionUser(userId);
    if (snapshot) await sessions.refreshUser(snapshot);
  };

  const sessionUser = async (id: string): Promise<UserSnapshot | null> => {
    const row = await rowById(id);
    if (!row || row.disabled_at_ms !== null) return null;
    const effective = await effectiveRoles(row.id, row.roles);
    const kind: UserSnapshot['kind'] = row.kind === 'service' ? 'service' : 'person';
    // Fail closed: a service account (or a row of no known kind) acts with the agent role at most, whatever an old row or a group says.
    const roles = row.kind !== 'person' ? effective.roles.filter((r) => SERVICE_ACCOUNT_ROLES.includes(r)) : effective.roles;
    return { id: row.id, username: row.username, name: row.display_name, email: row.email, kind, roles, groups: effective.groups };
  };

  const createEnrolmentLink: Users['createEnrolmentLink'] = async (userId, purpose, by, context) => {
    const row = await mustExist(userId);
    if (row.disabled_at_ms !== null) throw new AppError('invalid_request', { publicMessage: 'The user is disabled; enable them first.' });
    if (row.source !== 'local') throw new AppError('invalid_request', { publicMessage: 'Users who sign in through single sign-on do not enrol here.' });
    if (row.kind === 'service') throw new AppError('invalid_request', { publicMessage: 'Service accounts sign in with API tokens, not a password.' });
    const token = ids.token(32);
    const now = clock.now();
    const expiresAt = now + enrolmentTtlMs;
    await audit(
      { action: 'user.enrolment_link.created', outcome: 'success', target: { kind: 'user', id: userId }, details: { username: row.username, purpose, expiresAt: iso(expiresAt) } },
      by,
      context,
    );
    await db.transaction().execute(async (trx) => {
      // One live link per user: a new one retires the earlier ones.
      await trx.updateTable('user_enrolments').set({ used_at_ms: now }).where('user_id', '=', userId).where('used_at_ms', 'is', null).execute();
      await trx
        .insertInto('user_enrolments')
        .values({ token_hash: hashEnrolmentToken(token), user_id: userId, purpose, created_at_ms: now, expires_at_ms: expiresAt, used_at_ms: null })
        .execute();
    });
    return { url: `${base}/enrol?token=${token}`, expiresAt: iso(expiresAt) };
  };

  return {
    async create(input, by, context) {
      const username = requireUsername(input.username);
      const displayName = checkDisplayName(input.displayName ?? username);
      const email = checkEmail(input.email ?? null);
      const roles = checkRoles(input.roles ?? []);
      const kind = input.kind ?? 'person';
      if (kind !== 'person' && kind !== 'service') throw new AppError('invalid_request', { publicMessage: 'kind must be person or service.' });
      if (input.source !== 'local' && input.source !== 'oidc') throw new AppError('invalid_request', { publicMessage: 'source must be local or oidc.' });
      assertServiceAccountRoles(kind, roles);
      const existing = await db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst();
      if (existing) throw new AppError('user_exists');
      const now = clock.now();
      const row = newUserRow({ id: ids.uuid(), username, email, displayName, kind, roles, source: input.source, mfaRequired: input.mfaRequired ?? false }, now);
      const record = toRecord(row);
      await audit({ action: 'user.created', outcome: 'success', target: { kind: 'user', id: row.id }, details: { after: record } }, by, context);
      try {
        await db
          .insertInto('users')
          .values({ ...row, roles: jsonb(roles) })
          .execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw new AppError('user_exists', { cause: error });
        throw error;
      }
      return record;
    },

    async get(id) {
      const row = await rowById(id);
      return row ? toRecord(row) : null;
    },

    async findByUsername(input) {
      const username = normalizeUsername(input);
      if (username === null) return null;
      const row = await db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
      return row ? toRecord(row) : null;
    },

    async list(filter = {}) {
      let query = db.selectFrom('users').selectAll().orderBy('username');
      if (!filter.includeDisabled) query = query.where('disabled_at_ms', 'is', null);
      return (await query.execute()).map(toRecord);
    },

    async update(id, patch, by, context) {
      const row = await mustExist(id);
      const next = { ...row };
      if (patch.displayName !== undefined) next.display_name = checkDisplayName(patch.displayName);
      if (patch.email !== undefined) next.email = checkEmail(patch.email);
      if (patch.roles !== undefined) next.roles = checkRoles(patch.roles);
      if (patch.mfaRequired !== undefined) {
        if (typeof patch.mfaRequired !== 'boolean') throw new AppError('invalid_request', { publicMessage: 'mfaRequired must be true or false.' });
        next.mfa_required = patch.mfaRequired;
      }
      // Checked on the result, so an old service account that still holds another role is fixed, not edited around.
      assertServiceAccountRoles(next.kind, next.roles);
      const before = toRecord(row);
      if (patch.roles !== undefined && (await isEffectiveAdmin(row))) await assertAdminRemains(id, checkRoles(next.roles));
      next.updated_at_ms = clock.now();
      const after = toRecord(next);
      await audit({ action: 'user.updated', outcome: 'success', target: { kind: 'user', id }, details: { before, after } }, by, context);
      await db
        .updateTable('users')
        .set({ display_name: next.display_name, email: next.email, roles: jsonb(next.roles), mfa_required: next.mfa_required, updated_at_ms: next.updated_at_ms })
        .where('id', '=', id)
        .execute();
      if (patch.roles !== undefined || patch.displayName !== undefined || patch.email !== undefined) await refreshSessions(id);
      return { before, after };
    },

    async disable(id, by, reason, context) {
      const text = typeof reason === 'string' ? reason.trim() : '';
      if (text === '' || text.length > 500 || CONTROL.test(text)) throw new AppError('invalid_request', { publicMessage: 'A reason of 1 to 500 characters is required.' });
      const row = await mustExist(id);
      if (row.disabled_at_ms === null) {
        if (await isEffectiveAdmin(row)) await assertAdminRemains(id);
        await audit({ action: 'user.disabled', outcome: 'success', target: { kind: 'user', id }, details: { username: row.username, reason: text } }, by, context);
        const now = clock.now();
        await db.updateTable('users').set({ disabled_at_ms: now, updated_at_ms: now }).where('id', '=', id).execute();
      }
      // Also when already disabled: a session that slipped through a race ends now.
      await revokeAccess(id, by, 'user disabled', context);
    },

    async enable(id, by, context) {
      const row = await mustExist(id);
      if (row.disabled_at_ms === null) return;
      await audit({ action: 'user.enabled', outcome: 'success', target: { kind: 'user', id }, details: { username: row.username } }, by, context);
      await db.updateTable('users').set({ disabled_at_ms: null, updated_at_ms: clock.now() }).where('id', '=', id).execute();
    },

    async delete(id, by, context) {
      const row = await mustExist(id);
      if (await isEffectiveAdmin(row)) await assertAdminRemains(id);
      await audit({ action: 'user.deleted', outcome: 'success', target: { kind: 'user', id }, details: { before: toRecord(row) } }, by, context);
      // Sessions in Redis do not go with the row, so they are ended first.
      await revokeAccess(id, by, 'user deleted', context);
      await db.deleteFrom('users').where('id', '=', id).execute();
    },

    async resetMfa(id, by, context) {
      const row = await mustExist(id);
      if (row.source !== 'local') throw new AppError('invalid_request', { publicMessage: 'Users who sign in through single sign-on manage MFA at their provider.' });
      await audit(
        { action: 'user.mfa_reset', outcome: 'success', target: { kind: 'user', id }, details: { username: row.username, wasEnrolled: row.totp_enabled_at_ms !== null } },
        by,
        context,
      );
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('users')
          .set({ totp_secret_sealed: null, totp_enabled_at_ms: null, totp_last_step: null, updated_at_ms: clock.now() })
          .where('id', '=', id)
          .execute();
        await trx.deleteFrom('user_recovery_codes').where('user_id', '=', id).execute();
      });
      // The second factor may be in someone else's hands: what the user holds ends, browser sessions included.
      await revokeAccess(id, by, 'mfa reset', context);
      const link = row.disabled_at_ms === null ? await createEnrolmentLink(id, 'reset_mfa', by, context) : null;
      if (!link) throw new AppError('invalid_request', { publicMessage: 'MFA was reset, but the user is disabled: enable them, then create an enrolment link.' });
      return { enrolmentUrl: link.url, expiresAt: link.expiresAt };
    },

    async provisionOidc(input) {
      const issuer = checkText(input.issuer, 'issuer', 2048);
      const subject = checkText(input.subject, 'subject', 255);
      const email = input.email === null || input.email === undefined || !EMAIL_SHAPE.test(input.email) ? null : input.email;
      const name = checkDisplayName(sanitizeName(input.name) || input.username || subject);
      const now = clock.now();
      const system: Actor = { kind: 'system', id: 'oidc', name: issuer };
      const existing = await db.selectFrom('users').selectAll().where('oidc_issuer', '=', issuer).where('oidc_subject', '=', subject).executeTakeFirst();
      if (existing) {
        if (existing.display_name === name && existing.email === email) return toRecord(existing);
        const next = { ...existing, display_name: name, email, updated_at_ms: now };
        await trail.record({ actor: system, action: 'user.updated', outcome: 'success', target: { kind: 'user', id: existing.id }, details: { before: toRecord(existing), after: toRecord(next) } });
        await db.updateTable('users').set({ display_name: name, email, updated_at_ms: now }).where('id', '=', existing.id).execute();
        await refreshSessions(existing.id);
        return toRecord(next);
      }
      // A provider's name never takes over a local account: on a clash the new user gets a suffix.
      let username = normalizeUsername(input.username) ?? `oidc-${shortHash(subject)}`;
      if (await db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst()) username = `${username.slice(0, 110)}+${shortHash(`${issuer} ${subject}`)}`;
      const row = newUserRow({ id: ids.uuid(), username, email, displayName: name, kind: 'person', roles: [], source: 'oidc', mfaRequired: false, oidc: { issuer, subject } }, now);
      await trail.record({ actor: system, action: 'user.created', outcome: 'success', target: { kind: 'user', id: row.id }, details: { after: toRecord(row), provisioned: true } });
      try {
        await db.insertInto('users').values({ ...row, roles: jsonb([]) }).execute();
      } catch (error) {
        // Two nodes provisioned the same first sign-in at once: the other one won.
        if (!isUniqueViolation(error)) throw error;
        const winner = await db.selectFrom('users').selectAll().where('oidc_issuer', '=', issuer).where('oidc_subject', '=', subject).executeTakeFirst();
        if (!winner) throw new AppError('user_exists', { cause: error });
        return toRecord(winner);
      }
      return toRecord(row);
    },

    sessionUser,
    createEnrolmentLink,

    async enrolsByLink(userId) {
      const row = await db.selectFrom('user_enrolments').select('user_id').where('user_id', '=', userId).where('purpose', '=', 'reset_mfa').limit(1).executeTakeFirst();
      return row !== undefined;
    },
  };
}

/** The public view of a row: no hash, no seed. */
/** What a new account is made of; everything else starts empty (no password, no TOTP, never signed in). */
export interface NewUser {
  id: string;
  username: string;
  email: string | null;
  displayName: string;
  kind: 'person' | 'service';
  roles: Role[];
  source: 'local' | 'oidc';
  mfaRequired: boolean;
  /** The provider's account, for a user provisioned at an OpenID Connect sign-in. */
  oidc?: { issuer: string; subject: string };
}

/** A new account's row (created, import and provisioning alike); roles as read, not yet as JSON for an insert. */
export function newUserRow(user: NewUser, now: number): Selectable<UserRow> {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    display_name: user.displayName,
    kind: user.kind,
    roles: user.roles,
    source: user.source,
    oidc_issuer: user.oidc?.issuer ?? null,
    oidc_subject: user.oidc?.subject ?? null,
    password_hash: null,
    mfa_required: user.mfaRequired,
    totp_secret_sealed: null,
    totp_enabled_at_ms: null,
    totp_last_step: null,
    disabled_at_ms: null,
    created_at_ms: now,
    updated_at_ms: now,
    last_login_at_ms: null,
  };
}

export function toRecord(row: Selectable<UserRow>): UserRecord {
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    email: row.email,
    kind: row.kind === 'service' ? 'service' : 'person',
    roles: ROLES.filter((r) => row.roles.includes(r)),
    source: row.source === 'oidc' ? 'oidc' : 'local',
    mfaRequired: row.mfa_required,
    mfaEnrolled: row.totp_enabled_at_ms !== null,
    disabled: row.disabled_at_ms !== null,
    createdAt: iso(row.created_at_ms),
    updatedAt: iso(row.updated_at_ms),
    lastLoginAt: row.last_login_at_ms === null ? null : iso(row.last_login_at_ms),
  };
}

export function actorOf(by: Principal | null): Actor {
  if (!by) return { kind: 'system', id: 'webasset', name: 'webasset' };
  return { kind: by.kind, id: by.id, name: by.name };
}

function pickContext(context: UserChangeContext | undefined): Pick<AuditEventInput, 'sourceIp' | 'userAgent' | 'requestId'> {
  if (!context) return {};
  return { sourceIp: context.sourceIp, userAgent: context.userAgent, requestId: context.requestId };
}

/** jsonb parameter: pg would send a JS array as a Postgres array literal. */
export function jsonb(value: unknown) {
  return sql<string[]>`${JSON.stringify(value)}::jsonb`;
}

function requireUsername(input: string): string {
  const username = normalizeUsername(input);
  if (username === null) {
    throw new AppError('invalid_request', { publicMessage: 'A username is 1 to 128 characters: letters, digits and . _ - @ +, starting with a letter or digit.' });
  }
  return username;
}

function checkDisplayName(input: string): string {
  const value = typeof input === 'string' ? input.normalize('NFC').trim() : '';
  if (value === '' || value.length > 200 || CONTROL.test(value)) throw new AppError('invalid_request', { publicMessage: 'A display name is 1 to 200 characters, without control characters.' });
  return value;
}

function checkEmail(input: string | null): string | null {
  if (input === null) return null;
  const value = typeof input === 'string' ? input.trim() : '';
  if (value === '') return null;
  if (value.length > 254 || !EMAIL_SHAPE.test(value)) throw new AppError('invalid_request', { publicMessage: 'The email address is not valid.' });
  return value;
}

function checkRoles(input: unknown): Role[] {
  const list: unknown[] = Array.isArray(input) ? (input as unknown[]) : [null];
  if (list.some((r) => typeof r !== 'string' || !(ROLES as readonly string[]).includes(r))) {
    throw new AppError('invalid_request', { publicMessage: `Unknown role; expected some of ${ROLES.join(', ')}.` });
  }
  return ROLES.filter((r) => list.includes(r));
}

function checkText(input: string, name: string, max: number): string {
  if (typeof input !== 'string' || input === '' || input.length > max || CONTROL.test(input)) throw new AppError('invalid_request', { publicMessage: `The ${name} is not valid.` });
  return input;
}

function sanitizeName(input: string | undefined): string {
  return typeof input === 'string' ? input.replace(new RegExp(CONTROL.source, 'g'), ' ').slice(0, 200).trim() : '';
}

function checkPublicUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new TypeError('createUsers: publicUrl must be an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('createUsers: publicUrl must be an absolute http(s) URL');
  return url.toString().replace(/\/+$/, '');
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

function isUuid(id: string): boolean {
  return typeof id === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '23505';
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
