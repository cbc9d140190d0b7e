import { sql, type Kysely, type Selectable } from 'kysely';
import { z } from 'zod';
import { AppError, type Clock, type IdGenerator } from '../core/index.js';
import type { Actor, AuditTrail } from '../audit/index.js';
import type { GroupRow, Tables } from '../store/index.js';
import type { AccessRevokedPort } from './access-revocations.js';
import { ROLES, type Principal, type Role } from './principal.js';

/** Where a membership came from: the admin API or an import, or the provider's groups claim. */
export type MembershipSource = 'local' | 'oidc';

export interface GroupRecord {
  id: string;
  name: string;
  description: string;
  /** Roles every member gets. */
  roles: Role[];
  createdAt: string;
  updatedAt: string;
}

export interface MemberRecord {
  groupId: string;
  userId: string;
  username: string;
  source: MembershipSource;
  createdAt: string;
}

export interface UserGroupRecord {
  id: string;
  name: string;
  roles: Role[];
  source: MembershipSource;
}

/** The request facts an audit event carries (structurally the same as access's RequestContext). */
export interface ChangeContext {
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
  requestId?: string | undefined;
}

/**
 * What a membership change does to live web sessions. Defined here, by its
 * consumer; the composition root wires it to WebSessions and Users.
 */
export interface MembershipEffects {
  /** The user lost their last group: every session ends. */
  endSessions(userId: string, by: Principal | null, reason: string): Promise<unknown>;
  /** Groups or group roles changed: live sessions get the new snapshot. */
  refreshSessions(userId: string): Promise<void>;
}

export interface GroupsDeps {
  db: Kysely<Tables>;
  trail: AuditTrail;
  clock: Clock;
  ids: IdGenerator;
  /** Absent until sessions exist (tests, CLI): then nothing is live to update. */
  effects?: MembershipEffects | undefined;
  /** Told when a change leaves a user without any group, after `effects.endSessions`: their browser sessions end too. */
  revocations?: AccessRevokedPort | undefined;
}

export interface Groups {
  create(input: { name: string; description?: string | undefined; roles?: readonly Role[] | undefined }, by: Principal, context?: ChangeContext): Promise<GroupRecord>;
  get(id: string): Promise<GroupRecord | null>;
  findByName(name: string): Promise<GroupRecord | null>;
  list(): Promise<GroupRecord[]>;
  update(
    id: string,
    patch: { name?: string | undefined; description?: string | undefined; roles?: readonly Role[] | undefined },
    by: Principal,
    context?: ChangeContext,
  ): Promise<{ before: GroupRecord; after: GroupRecord }>;
  /** Deletes the group and its memberships and permissions; members left without a group lose their sessions. */
  delete(id: string, by: Principal, context?: ChangeContext): Promise<void>;
  listMembers(groupId: string): Promise<MemberRecord[]>;
  /** Adds a local membership; an existing oidc membership becomes local (an administrator now owns it). */
  addMember(groupId: string, userId: string, by: Principal, context?: ChangeContext): Promise<MemberRecord>;
  removeMember(groupId: string, userId: string, by: Principal, context?: ChangeContext): Promise<void>;
  groupsOfUser(userId: string): Promise<UserGroupRecord[]>;
  /**
   * At each OIDC sign-in: the user's `oidc` memberships become exactly those
   * of `groupNames` that exist here (unknown names are ignored, never
   * created). Local memberships are untouched.
   */
  syncOidcMemberships(userId: string, groupNames: readonly string[], context?: ChangeContext): Promise<{ added: string[]; removed: string[]; ignored: string[] }>;
}

/** Group names travel in proxy headers (X-Webasset-Groups, comma-separated) and provider claims. */
export const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9 _./@-]{0,99}$/;
const NO_CONTROL = /^[^\p{Cc}]*$/u;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const groupNameSchema = z.string().regex(GROUP_NAME, 'letters, digits, space and _ . / @ -, 1 to 100, starting with a letter or digit');
export const groupDescriptionSchema = z.string().max(500).regex(NO_CONTROL, 'no control characters');
export const rolesSchema = z
  .array(z.enum(ROLES))
  .max(ROLES.length)
  .refine((roles) => new Set(roles).size === roles.length, 'roles must not repeat');

const createSchema = z.strictObject({ name: groupNameSchema, description: groupDescriptionSchema.optional(), roles: rolesSchema.optional() });
const patchSchema = z.strictObject({ name: groupNameSchema.optional(), description: groupDescriptionSchema.optional(), roles: rolesSchema.optional() });
const OIDC_SYNC_MAX = 1000;

const OIDC_ACTOR: Actor = { kind: 'system', id: 'oidc', name: 'OpenID Connect sign-in' };

export function createGroups(deps: GroupsDeps): Groups {
  const { db, trail, clock, ids } = deps;
  const effects = deps.effects;

  const actorOf = (p: Principal): Actor => ({ kind: p.kind, id: p.id, name: p.name });

  async function load(id: string): Promise<GroupRecord | null> {
    if (!UUID.test(id)) return null;
    const row = await db.selectFrom('groups').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  async function mustLoad(id: string): Promise<GroupRecord> {
    const group = await load(id);
    if (!group) throw new AppError('not_found', { publicMessage: 'No such group.' });
    return group;
  }

  async function assertNameFree(name: string, exceptId?: string): Promise<void> {
    // Case-insensitive: "Ops" and "ops" in one header would be indistinguishable to an upstream.
    const clash = await db
      .selectFrom('groups')
      .select('id')
      .where(sql<string>`lower(name)`, '=', name.toLowerCase())
      .$if(exceptId !== undefined, (q) => q.where('id', '<>', exceptId!))
      .executeTakeFirst();
    if (clash) throw new AppError('conflict', { publicMessage: 'A group with this name exists.' });
  }

  async function memberIds(groupId: string): Promise<string[]> {
    const rows = await db.selectFrom('group_members').select('user_id').where('group_id', '=', groupId).execute();
    return rows.map((r) => r.user_id);
  }

  async function groupCount(userId: string): Promise<number> {
    const row = await db.selectFrom('group_members').select(db.fn.countAll<string>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** After a change: users without a group lose their sessions, the others get a fresh snapshot. */
  async function settle(userIds: Iterable<string>, by: Principal | null, reason: string, context?: ChangeContext): Promise<void> {
    if (!effects && !deps.revocations) return;
    for (const userId of new Set(userIds)) {
      if ((await groupCount(userId)) === 0) {
        await effects?.endSessions(userId, by, reason);
        await deps.revocations?.revoked({ userId, by, reason: `no group left (${reason})`, context });
      } else await effects?.refreshSessions(userId);
    }
  }

  async function userExists(userId: string): Promise<{ id: string; username: string } | undefined> {
    if (!UUID.test(userId)) return undefined;
    return db.selectFrom('users').select(['id', 'username']).where('id', '=', userId).executeTakeFirst();
  }

  return {
    async create(input, by, context = {}) {
      const parsed = parse(createSchema, input);
      await assertNameFree(parsed.name);
      const now = clock.now();
      const group: GroupRecord = {
        id: ids.uuid(),
        name: parsed.name,
        description: parsed.description ?? '',
        roles: sortRoles(parsed.roles ?? []),
        createdAt: iso(now),
        updatedAt: iso(now),
      };
      await trail.record({ actor: actorOf(by), action: 'group.created', outcome: 'success', target: { kind: 'group', id: group.id }, details: { after: group }, ...context });
      try {
        await db
          .insertInto('groups')
          .values({ id: group.id, name: group.name, description: group.description, roles: json(group.roles), created_at_ms: now, updated_at_ms: now })
          .execute();
      } catch (error) {
        throw uniqueViolation(error) ? new AppError('conflict', { publicMessage: 'A group with this name exists.' }) : error;
      }
      return group;
    },

    get: load,

    async findByName(name) {
      const row = await db.selectFrom('groups').selectAll().where('name', '=', name).executeTakeFirst();
      return row ? toRecord(row) : null;
    },

    async list() {
      const rows = await db.selectFrom('groups').selectAll().orderBy('name').execute();
      return rows.map(toRecord);
    },

    async update(id, patch, by, context = {}) {
      const parsed = parse(patchSchema, patch);
      const before = await mustLoad(id);
      if (parsed.name !== undefined && parsed.name !== before.name) await assertNameFree(parsed.name, id);
      const now = clock.now();
      const after: GroupRecord = {
        ...before,
        name: parsed.name ?? before.name,
        description: parsed.description ?? before.description,
        roles: parsed.roles ? sortRoles(parsed.roles) : before.roles,
        updatedAt: iso(now),
      };
      if (sameGroup(before, after)) return { before, after: before };
      await trail.record({ actor: actorOf(by), action: 'group.updated', outcome: 'success', target: { kind: 'group', id }, details: { before, after }, ...context });
      try {
        const result = await db
          .updateTable('groups')
          .set({ name: after.name, description: after.description, roles: json(after.roles), updated_at_ms: now })
          .where('id', '=', id)
          .where('updated_at_ms', '=', Date.parse(before.updatedAt))
          .executeTakeFirst();
        if (result.numUpdatedRows === 0n) throw new AppError('conflict', { publicMessage: 'The group changed meanwhile; read it again and retry.' });
      } catch (error) {
        throw uniqueViolation(error) ? new AppError('conflict', { publicMessage: 'A group with this name exists.' }) : error;
      }
      // Names travel in sessions' group lists and roles in their permissions: refresh every member.
      if (after.name !== before.name || after.roles.join() !== before.roles.join()) await settle(await memberIds(id), by, 'group changed');
      return { before, after };
    },

    async delete(id, by, context = {}) {
      const before = await mustLoad(id);
      const members = await memberIds(id);
      const grants = await db.selectFrom('permissions').select('id').where('subject_kind', '=', 'group').where('subject_id', '=', id).execute();
      await trail.record({
        actor: actorOf(by),
        action: 'group.deleted',
        outcome: 'success',
        target: { kind: 'group', id },
        details: { before, members: members.length, permissionsRemoved: grants.length },
        ...context,
      });
      // Permissions name their subject without a foreign key (user or group): remove them with the group.
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('permissions').where('subject_kind', '=', 'group').where('subject_id', '=', id).execute();
        await trx.deleteFrom('groups').where('id', '=', id).execute();
      });
      await settle(members, by, 'group deleted', context);
    },

    async listMembers(groupId) {
      await mustLoad(groupId);
      const rows = await db
        .selectFrom('group_members as m')
        .innerJoin('users as u', 'u.id', 'm.user_id')
        .select(['m.group_id', 'm.user_id', 'u.username', 'm.source', 'm.created_at_ms'])
        .where('m.group_id', '=', groupId)
        .orderBy('u.username')
        .execute();
      return rows.map((r) => ({ groupId: r.group_id, userId: r.user_id, username: r.username, source: r.source as MembershipSource, createdAt: iso(r.created_at_ms) }));
    },

    async addMember(groupId, userId, by, context = {}) {
      const group = await mustLoad(groupId);
      const user = await userExists(userId);
      if (!user) throw new AppError('not_found', { publicMessage: 'No such user.' });
      const existing = await db.selectFrom('group_members').selectAll().where('group_id', '=', groupId).where('user_id', '=', userId).executeTakeFirst();
      if (existing?.source === 'local') throw new AppError('conflict', { publicMessage: 'The user is already a member of this group.' });
      const now = existing?.created_at_ms ?? clock.now();
      await trail.record({
        actor: actorOf(by),
        action: 'group.member.added',
        outcome: 'success',
        target: { kind: 'group', id: groupId },
        details: { group: group.name, userId, username: user.username, before: existing ? { source: existing.source } : null, after: { source: 'local' } },
        ...context,
      });
      await db
        .insertInto('group_members')
        .values({ group_id: groupId, user_id: userId, source: 'local', created_at_ms: now })
        .onConflict((oc) => oc.columns(['group_id', 'user_id']).doUpdateSet({ source: 'local' }))
        .execute();
      if (!existing) await settle([userId], by, 'membership changed');
      return { groupId, userId, username: user.username, source: 'local', createdAt: iso(now) };
    },

    async removeMember(groupId, userId, by, context = {}) {
      const group = await mustLoad(groupId);
      const existing = UUID.test(userId)
        ? await db.selectFrom('group_members').selectAll().where('group_id', '=', groupId).where('user_id', '=', userId).executeTakeFirst()
        : undefined;
      if (!existing) throw new AppError('not_found', { publicMessage: 'The user is not a member of this group.' });
      await trail.record({
        actor: actorOf(by),
        action: 'group.member.removed',
        outcome: 'success',
        target: { kind: 'group', id: groupId },
        details: { group: group.name, userId, before: { source: existing.source }, after: null },
        ...context,
      });
      await db.deleteFrom('group_members').where('group_id', '=', groupId).where('user_id', '=', userId).execute();
      await settle([userId], by, 'removed from group', context);
    },

    async groupsOfUser(userId) {
      if (!UUID.test(userId)) return [];
      const rows = await db
        .selectFrom('group_members as m')
        .innerJoin('groups as g', 'g.id', 'm.group_id')
        .select(['g.id', 'g.name', 'g.roles', 'm.source'])
        .where('m.user_id', '=', userId)
        .orderBy('g.name')
        .execute();
      return rows.map((r) => ({ id: r.id, name: r.name, roles: sortRoles(r.roles as Role[]), source: r.source as MembershipSource }));
    },

    async syncOidcMemberships(userId, groupNames, context = {}) {
      if (!(await userExists(userId))) throw new AppError('not_found', { publicMessage: 'No such user.' });
      // Claims are provider input: keep only well-formed names, a bounded number of them.
      const wanted = new Set(groupNames.filter((n) => typeof n === 'string' && GROUP_NAME.test(n)).slice(0, OIDC_SYNC_MAX));
      const known = wanted.size === 0 ? [] : await db.selectFrom('groups').select(['id', 'name']).where('name', 'in', [...wanted]).execute();
      const ignored = [...wanted].filter((n) => !known.some((g) => g.name === n)).sort();
      const current = await db
        .selectFrom('group_members as m')
        .innerJoin('groups as g', 'g.id', 'm.group_id')
        .select(['g.id', 'g.name', 'm.source'])
        .where('m.user_id', '=', userId)
        .execute();
      const currentIds = new Set(current.map((m) => m.id));
      const add = known.filter((g) => !currentIds.has(g.id));
      const keep = new Set(known.map((g) => g.id));
      const remove = current.filter((m) => m.source === 'oidc' && !keep.has(m.id));
      const result = { added: add.map((g) => g.name).sort(), removed: remove.map((g) => g.name).sort(), ignored };
      if (add.length === 0 && remove.length === 0) return result;
      await trail.record({
        actor: OIDC_ACTOR,
        action: 'group.memberships.synced',
        outcome: 'success',
        target: { kind: 'user', id: userId },
        details: {
          before: current.map((m) => ({ group: m.name, source: m.source })).sort(byGroup),
          after: [...current.filter((m) => !remove.includes(m)).map((m) => ({ group: m.name, source: m.source })), ...add.map((g) => ({ group: g.name, source: 'oidc' }))].sort(byGroup),
          ignored: ignored.length > 50 ? ignored.slice(0, 50).concat(`(+${ignored.length - 50} more)`) : ignored,
        },
        ...context,
      });
      const now = clock.now();
      await db.transaction().execute(async (trx) => {
        if (remove.length > 0) {
          await trx
            .deleteFrom('group_members')
            .where('user_id', '=', userId)
            .where('source', '=', 'oidc')
            .where(
              'group_id',
              'in',
              remove.map((m) => m.id),
            )
            .execute();
        }
        if (add.length > 0) {
          await trx
            .insertInto('group_members')
            .values(add.map((g) => ({ group_id: g.id, user_id: userId, source: 'oidc', created_at_ms: now })))
            // A concurrent admin add wins: it is local, and local memberships are never touched here.
            .onConflict((oc) => oc.columns(['group_id', 'user_id']).doNothing())
            .execute();
        }
      });
      await settle([userId], null, 'provider groups changed', context);
      return result;
    },
  };
}

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new AppError('invalid_request', {
    publicMessage: 'The request is invalid; see details.',
    data: result.error.issues.map((i) => ({ field: i.path.join('.') || 'body', problem: i.message })),
  });
}

function toRecord(row: Selectable<GroupRow>): GroupRecord {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    roles: sortRoles(row.roles as Role[]),
    createdAt: iso(row.created_at_ms),
    updatedAt: iso(row.updated_at_ms),
  };
}

function sameGroup(a: GroupRecord, b: GroupRecord): boolean {
  return a.name === b.name && a.description === b.description && a.roles.join() === b.roles.join();
}

/** Role lists are sets: one order, so diffs and audit records compare equal. */
export function sortRoles(roles: readonly Role[]): Role[] {
  return ROLES.filter((r) => roles.includes(r));
}

const byGroup = (a: { group: string }, b: { group: string }) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0);

function iso(ms: number | string): string {
  return new Date(Number(ms)).toISOString();
}

/** jsonb parameters go in as JSON text: pg would send a JS array as a Postgres array. */
function json<T>(value: T): T {
  return JSON.stringify(value) as unknown as T;
}

function uniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown })?.code === '23505';
}
