import type { Kysely, Selectable, Transaction } from 'kysely';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { AppError, canonicalJson, importJumpServerAutofill, isAppError, type Clock, type IdGenerator } from '../core/index.js';
import type { AuditEventInput, AuditTrail } from '../audit/index.js';
import {
  forbiddenServiceAccountRoles,
  groupDescriptionSchema,
  groupNameSchema,
  newUserRow,
  rolesSchema,
  SERVICE_ACCOUNT_ROLES,
  sortRoles,
  type MembershipEffects,
  type NewUser,
  type Principal,
  type Role,
} from '../identity/index.js';
import type { AssetRow, GroupRow, PermissionRow, Tables, UserRow } from '../store/index.js';
import { assetAuditView, assetIdSchema, jsonb, normalizeAsset, toAssetRecord } from './assets.js';
import { checkDefinitionHosts, DEFAULT_DEFINITION, definitionAuditView, definitionInputFields, mergeDefinition, readDefinition, storedDefinition } from './asset-definition.js';
import type { RequestContext } from './request-context.js';
import { actionsSchema, normalizeWindow, sortActions, toGrantRecord } from './grants.js';
import { timeWindowSchema } from './time-window.js';
import type { AssetAction } from './permissions.js';

/**
 * `webasset import policy.yaml`: users, groups, memberships, assets and
 * permissions declared in one file, applied idempotently in one transaction.
 * The file is the truth for what it names; what it does not name is left
 * alone unless its `prune` list names that section.
 */

export const POLICY_MAX_BYTES = 2 * 1024 * 1024;
const SECTIONS = ['users', 'groups', 'memberships', 'assets', 'permissions'] as const;

const usernameSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[a-z0-9][a-z0-9._@+-]{0,127}$/, 'lowercase letters, digits and . _ @ + -, starting with a letter or digit');
const text = (max: number) => z.string().min(1).max(max).regex(/^[^\p{Cc}]*$/u, 'no control characters');

const userEntry = z.strictObject({
  username: usernameSchema,
  displayName: text(200).optional(),
  email: z
    .string()
    .max(254)
    .regex(/^[^\s@<>"]{1,64}@[^\s@<>"]{1,189}$/, 'an email address')
    .nullable()
    .optional(),
  roles: rolesSchema.optional(),
  kind: z.enum(['person', 'service']).optional(),
  mfaRequired: z.boolean().optional(),
});
const groupEntry = z.strictObject({
  name: groupNameSchema,
  description: groupDescriptionSchema.optional(),
  roles: rolesSchema.optional(),
  /** Usernames (local memberships). Absent: memberships of this group are not managed by the file. */
  members: z.array(usernameSchema).max(100_000).optional(),
});
const assetEntry = z
  .strictObject({
    id: assetIdSchema,
    name: text(200),
    url: z.string().min(1).max(2048),
    allowedHosts: z.array(z.string().min(1).max(253)).min(1).max(50).optional(),
    mfaRequired: z.boolean().optional(),
    /** Browser-session definition (start URL, vault entry, recipe, checks, policy): absent fields stay as they are, null resets. */
    ...definitionInputFields,
    /**
     * A JumpServer web asset's autofill (`autofill`, the selectors, `script`) or its script list alone, as an
     * existing JumpServer deployment has it: converted to `loginRecipe` here (core/jumpserver-autofill.ts).
     */
    jumpServerAutofill: z.unknown().optional(),
  })
  .transform(({ jumpServerAutofill, ...entry }, ctx) => {
    if (jumpServerAutofill === undefined) return entry;
    if (entry.loginRecipe !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['jumpServerAutofill'], message: 'give loginRecipe or jumpServerAutofill, not both' });
      return z.NEVER;
    }
    try {
      return { ...entry, loginRecipe: importJumpServerAutofill(jumpServerAutofill).recipe };
    } catch (error) {
      // The converter names the step and the problem, never a value.
      const details = isAppError(error) && Array.isArray(error.data) ? (error.data as Array<{ field: string; problem: string }>) : [];
      const where = details.map((d) => `${d.field}: ${d.problem}`).join('; ');
      ctx.addIssue({ code: 'custom', path: ['jumpServerAutofill'], message: where || (isAppError(error) ? error.publicMessage : 'not a JumpServer autofill') });
      return z.NEVER;
    }
  });
const permissionEntry = z
  .strictObject({
    group: groupNameSchema.optional(),
    user: usernameSchema.optional(),
    asset: assetIdSchema,
    actions: actionsSchema,
    timeWindow: timeWindowSchema.nullable().optional(),
    maxConcurrent: z.number().int().min(1).max(1000).nullable().optional(),
  })
  .refine((p) => (p.group === undefined) !== (p.user === undefined), 'exactly one of group and user');

export const policySchema = z.strictObject({
  version: z.literal(1),
  prune: z.array(z.enum(SECTIONS)).max(SECTIONS.length).optional(),
  users: z.array(userEntry).max(100_000).optional(),
  groups: z.array(groupEntry).max(10_000).optional(),
  assets: z.array(assetEntry).max(10_000).optional(),
  permissions: z.array(permissionEntry).max(100_000).optional(),
});
export type PolicyFile = z.infer<typeof policySchema>;

export interface PolicyChange {
  op: '+' | '~' | '-';
  kind: 'user' | 'group' | 'member' | 'asset' | 'permission';
  /** Human key: username, group name, `group/username`, asset id, `group:ops → asset`. */
  key: string;
  field?: string | undefined;
  before?: unknown;
  after?: unknown;
}

export interface ImportResult {
  changes: PolicyChange[];
  applied: boolean;
  /** What conversions in the file changed in meaning (parsePolicyFile); never a value. */
  warnings: string[];
}

export interface ImportDeps {
  db: Kysely<Tables>;
  trail: AuditTrail;
  clock: Clock;
  ids: IdGenerator;
  effects?: MembershipEffects | undefined;
}

/** Parses and validates a policy file; problems name the path in the file, never the values. */
export function parsePolicy(source: string): PolicyFile {
  return parsePolicyFile(source).file;
}

/**
 * parsePolicy, with what the file's conversions changed in meaning (JumpServer autofill: a dropped
 * sleep, a code step, fixed text typed): each warning names its place in the file, never a value.
 */
export function parsePolicyFile(source: string): { file: PolicyFile; warnings: string[] } {
  if (Buffer.byteLength(source) > POLICY_MAX_BYTES) throw invalid([{ field: 'file', problem: `larger than ${POLICY_MAX_BYTES} bytes` }]);
  // Aliases are refused outright: a "billion laughs" file expands them exponentially.
  const doc = parseDocument(source, { uniqueKeys: true, prettyErrors: false, strict: true });
  if (doc.errors.length > 0) throw invalid(doc.errors.slice(0, 10).map((e) => ({ field: `line ${e.linePos?.[0]?.line ?? '?'}`, problem: e.code })));
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 0 });
  } catch {
    throw invalid([{ field: 'file', problem: 'not a plain YAML document (aliases are not allowed)' }]);
  }
  const parsed = policySchema.safeParse(data);
  if (!parsed.success) throw invalid(parsed.error.issues.slice(0, 50).map((i) => ({ field: i.path.join('.') || 'file', problem: i.message })));
  const problems = duplicates(parsed.data);
  if (problems.length > 0) throw invalid(problems);
  return { file: parsed.data, warnings: conversionWarnings(data) };
}

/** The converter's warnings for each asset entry that carried JumpServer autofill (it converted once already, so it does not throw here). */
function conversionWarnings(data: unknown): string[] {
  const assets = (data as { assets?: unknown }).assets;
  if (!Array.isArray(assets)) return [];
  return assets.flatMap((entry: unknown, index) => {
    const { id, jumpServerAutofill } = entry as { id: string; jumpServerAutofill?: unknown };
    if (jumpServerAutofill === undefined) return [];
    return importJumpServerAutofill(jumpServerAutofill).warnings.map((warning) => `asset ${id} (assets.${index}.jumpServerAutofill) ${warning}`);
  });
}

function duplicates(file: PolicyFile): Array<{ field: string; problem: string }> {
  const out: Array<{ field: string; problem: string }> = [];
  const check = (section: string, keys: string[]) => {
    const seen = new Set<string>();
    keys.forEach((k, i) => {
      if (seen.has(k)) out.push({ field: `${section}.${i}`, problem: 'listed twice' });
      seen.add(k);
    });
  };
  check('users', (file.users ?? []).map((u) => u.username));
  check('groups', (file.groups ?? []).map((g) => g.name.toLowerCase()));
  check('assets', (file.assets ?? []).map((a) => a.id));
  check('permissions', (file.permissions ?? []).map((p) => `${p.group !== undefined ? `group:${p.group}` : `user:${p.user}`}|${p.asset}`));
  (file.groups ?? []).forEach((g, gi) => check(`groups.${gi}.members`, g.members ?? []));
  return out;
}

function invalid(data: Array<{ field: string; problem: string }>): AppError {
  return new AppError('invalid_request', { publicMessage: 'The policy file is invalid; see details.', data });
}

interface State {
  users: Map<string, Selectable<UserRow>>;
  groups: Map<string, Selectable<GroupRow>>;
  /** `groupId|userId` → source. */
  members: Map<string, string>;
  assets: Map<string, Selectable<AssetRow>>;
  /** `kind|subjectId|assetId` → row. */
  permissions: Map<string, Selectable<PermissionRow>>;
}

type Db = Kysely<Tables> | Transaction<Tables>;

async function readState(db: Db): Promise<State> {
  const [users, groups, members, assets, permissions] = await Promise.all([
    db.selectFrom('users').selectAll().execute(),
    db.selectFrom('groups').selectAll().execute(),
    db.selectFrom('group_members').selectAll().execute(),
    db.selectFrom('assets').selectAll().execute(),
    db.selectFrom('permissions').selectAll().execute(),
  ]);
  return {
    users: new Map(users.map((u) => [u.username, u])),
    groups: new Map(groups.map((g) => [g.name, g])),
    members: new Map(members.map((m) => [`${m.group_id}|${m.user_id}`, m.source])),
    assets: new Map(assets.map((a) => [a.id, a])),
    permissions: new Map(permissions.map((p) => [`${p.subject_kind}|${p.subject_id}|${p.asset_id}`, p])),
  };
}

/** One planned write: the change shown and audited, and how to apply it. */
interface Step {
  change: PolicyChange;
  audit: Omit<AuditEventInput, 'actor' | 'sourceIp' | 'userAgent' | 'requestId'>;
  apply(trx: Transaction<Tables>, now: number): Promise<void>;
  /** Users whose live sessions must follow (memberships, roles). */
  touches: string[];
  /** Users who lose a membership here: without any group left, their sessions end. */
  orphans?: string[] | undefined;
}

const same = (a: unknown, b: unknown) => canonicalJson(a ?? null) === canonicalJson(b ?? null);

/** Computes every step. `newId` gives the same id to the same new object in every call of one run. */
function plan(file: PolicyFile, state: State, newId: (key: string) => string): Step[] {
  const steps: Step[] = [];
  const prune = new Set(file.prune ?? []);
  const userId = new Map<string, string>();
  for (const [name, row] of state.users) userId.set(name, row.id);
  const groupId = new Map<string, string>();
  for (const [name, row] of state.groups) groupId.set(name, row.id);
  const membersOf = (gid: string) => [...state.members.keys()].filter((k) => k.startsWith(`${gid}|`)).map((k) => k.slice(gid.length + 1));
  const usernameOf = (uid: string) => [...state.users.values()].find((u) => u.id === uid)?.username ?? uid;

  // Users. A service account holds only the agent role (users.ts): checked on what the user would be
  // after the import (the file's kind or roles over the stored ones), before anything is planned.
  const roleProblems = (file.users ?? []).flatMap((u, i) => {
    const row = state.users.get(u.username);
    const kind = u.kind ?? row?.kind ?? 'person';
    const roles = u.roles ?? (row?.roles as Role[] | undefined) ?? [];
    const forbidden = kind === 'service' ? forbiddenServiceAccountRoles(roles) : [];
    return forbidden.length === 0 ? [] : [{ field: `users.${i}.roles`, problem: `a service account holds only ${SERVICE_ACCOUNT_ROLES.join(', ')}, not ${forbidden.join(', ')}` }];
  });
  if (roleProblems.length > 0) {
    throw new AppError('service_account_role', { publicMessage: 'A service account can hold only the agent role; see details.', data: roleProblems });
  }
  for (const u of file.users ?? []) {
    const row = state.users.get(u.username);
    if (!row) {
      const id = newId(`user:${u.username}`);
      userId.set(u.username, id);
      const after: NewUser = {
        id,
        username: u.username,
        displayName: u.displayName ?? u.username,
        email: u.email ?? null,
        kind: u.kind ?? 'person',
        roles: sortRoles(u.roles ?? []),
        source: 'local',
        mfaRequired: u.mfaRequired ?? false,
      };
      steps.push({
        change: { op: '+', kind: 'user', key: u.username },
        audit: { action: 'user.created', outcome: 'success', target: { kind: 'user', id }, details: { after, via: 'import' } },
        touches: [],
        apply: async (trx, now) => {
          const created = newUserRow(after, now);
          await trx
            .insertInto('users')
            .values({ ...created, roles: jsonb(created.roles) })
            .execute();
        },
      });
      continue;
    }
    const current = { displayName: row.display_name, email: row.email, roles: sortRoles(row.roles as Role[]), kind: row.kind, mfaRequired: row.mfa_required };
    const wanted = {
      displayName: u.displayName ?? current.displayName,
      email: u.email === undefined ? current.email : u.email,
      roles: u.roles ? sortRoles(u.roles) : current.roles,
      kind: u.kind ?? current.kind,
      mfaRequired: u.mfaRequired ?? current.mfaRequired,
    };
    const fields = (Object.keys(wanted) as Array<keyof typeof wanted>).filter((f) => !same(current[f], wanted[f]));
    if (fields.length === 0) continue;
    steps.push({
      change: { op: '~', kind: 'user', key: u.username, field: fields.join(','), before: pick(current, fields), after: pick(wanted, fields) },
      audit: { action: 'user.updated', outcome: 'success', target: { kind: 'user', id: row.id }, details: { before: pick(current, fields), after: pick(wanted, fields), via: 'import' } },
      touches: fields.includes('roles') ? [row.id] : [],
      apply: async (trx, now) => {
        await trx
          .updateTable('users')
          .set({ display_name: wanted.displayName, email: wanted.email, roles: jsonb(wanted.roles), kind: wanted.kind, mfa_required: wanted.mfaRequired, updated_at_ms: now })
          .where('id', '=', row.id)
          .execute();
      },
    });
  }

  // Groups.
  for (const g of file.groups ?? []) {
    const row = state.groups.get(g.name) ?? [...state.groups.values()].find((x) => x.name.toLowerCase() === g.name.toLowerCase());
    if (!row) {
      const id = newId(`group:${g.name}`);
      groupId.set(g.name, id);
      const after = { id, name: g.name, description: g.description ?? '', roles: sortRoles(g.roles ?? []) };
      steps.push({
        change: { op: '+', kind: 'group', key: g.name },
        audit: { action: 'group.created', outcome: 'success', target: { kind: 'group', id }, details: { after, via: 'import' } },
        touches: [],
        apply: async (trx, now) => {
          await trx.insertInto('groups').values({ id, name: after.name, description: after.description, roles: jsonb(after.roles), created_at_ms: now, updated_at_ms: now }).execute();
        },
      });
      continue;
    }
    groupId.set(g.name, row.id);
    const current = { name: row.name, description: row.description, roles: sortRoles(row.roles as Role[]) };
    const wanted = { name: g.name, description: g.description ?? current.description, roles: g.roles ? sortRoles(g.roles) : current.roles };
    const fields = (Object.keys(wanted) as Array<keyof typeof wanted>).filter((f) => !same(current[f], wanted[f]));
    if (fields.length === 0) continue;
    steps.push({
      change: { op: '~', kind: 'group', key: g.name, field: fields.join(','), before: pick(current, fields), after: pick(wanted, fields) },
      audit: { action: 'group.updated', outcome: 'success', target: { kind: 'group', id: row.id }, details: { before: pick(current, fields), after: pick(wanted, fields), via: 'import' } },
      touches: fields.includes('roles') || fields.includes('name') ? membersOf(row.id) : [],
      apply: async (trx, now) => {
        await trx.updateTable('groups').set({ name: wanted.name, description: wanted.description, roles: jsonb(wanted.roles), updated_at_ms: now }).where('id', '=', row.id).execute();
      },
    });
  }

  // Assets.
  (file.assets ?? []).forEach((a, ai) => {
    const normalized = normalizeAsset(a);
    const row = state.assets.get(a.id);
    const definition = mergeDefinition(row ? readDefinition(row.definition) : DEFAULT_DEFINITION, a);
    try {
      checkDefinitionHosts(definition, normalized.allowedHosts);
    } catch (error) {
      const data = error instanceof AppError && Array.isArray(error.data) ? (error.data as Array<{ field: string; problem: string }>) : [];
      throw invalid(data.map((d) => ({ field: `assets.${ai}.${d.field}`, problem: d.problem })));
    }
    const mfaRequired = a.mfaRequired ?? (row ? toAssetRecord(row).mfaRequired : false);
    const wanted = { name: a.name, url: normalized.url, allowedHosts: normalized.allowedHosts, mfaRequired, ...definitionAuditView(definition) };
    const stored = (base: Record<string, unknown>) => jsonb({ ...base, ...storedDefinition(definition, mfaRequired) });
    if (!row) {
      steps.push({
        change: { op: '+', kind: 'asset', key: a.id },
        audit: { action: 'asset.created', outcome: 'success', target: { kind: 'asset', id: a.id }, details: { after: { id: a.id, ...wanted }, via: 'import' } },
        touches: [],
        apply: async (trx, now) => {
          await trx
            .insertInto('assets')
            .values({ id: a.id, name: wanted.name, url: wanted.url, allowed_hosts: jsonb(wanted.allowedHosts), definition: stored({}), created_at_ms: now, updated_at_ms: now })
            .execute();
        },
      });
      return;
    }
    const record = toAssetRecord(row);
    const current: Record<string, unknown> = { name: record.name, url: record.url, allowedHosts: record.allowedHosts, mfaRequired: record.mfaRequired, ...definitionAuditView(readDefinition(row.definition)) };
    const fields = (Object.keys(wanted) as Array<keyof typeof wanted>).filter((f) => !same(current[f], wanted[f]));
    if (fields.length === 0) return;
    steps.push({
      change: { op: '~', kind: 'asset', key: a.id, field: fields.join(','), before: pick(current, fields), after: pick(wanted, fields) },
      audit: { action: 'asset.updated', outcome: 'success', target: { kind: 'asset', id: a.id }, details: { before: pick(current, fields), after: pick(wanted, fields), via: 'import' } },
      touches: [],
      apply: async (trx, now) => {
        await trx
          .updateTable('assets')
          .set({ name: wanted.name, url: wanted.url, allowed_hosts: jsonb(wanted.allowedHosts), definition: stored(row.definition), updated_at_ms: now })
          .where('id', '=', a.id)
          .execute();
      },
    });
  });
  const assetExists = (id: string) => state.assets.has(id) || (file.assets ?? []).some((a) => a.id === id);

  // Memberships (local) of the groups that list `members`.
  const problems: Array<{ field: string; problem: string }> = [];
  (file.groups ?? []).forEach((g, gi) => {
    if (g.members === undefined) return;
    const gid = groupId.get(g.name)!;
    const wanted = new Set<string>();
    g.members.forEach((username, mi) => {
      const uid = userId.get(username);
      if (!uid) return problems.push({ field: `groups.${gi}.members.${mi}`, problem: 'no such user in the file or the database' });
      wanted.add(uid);
      if (state.members.has(`${gid}|${uid}`)) return;
      steps.push({
        change: { op: '+', kind: 'member', key: `${g.name}/${username}` },
        audit: { action: 'group.member.added', outcome: 'success', target: { kind: 'group', id: gid }, details: { group: g.name, userId: uid, username, before: null, after: { source: 'local' }, via: 'import' } },
        touches: [uid],
        apply: async (trx, now) => {
          await trx.insertInto('group_members').values({ group_id: gid, user_id: uid, source: 'local', created_at_ms: now }).execute();
        },
      });
    });
    if (!prune.has('memberships')) return;
    for (const uid of membersOf(gid)) {
      // Provider memberships belong to the provider's claim, not to the file.
      if (wanted.has(uid) || state.members.get(`${gid}|${uid}`) !== 'local') continue;
      steps.push({
        change: { op: '-', kind: 'member', key: `${g.name}/${usernameOf(uid)}` },
        audit: { action: 'group.member.removed', outcome: 'success', target: { kind: 'group', id: gid }, details: { group: g.name, userId: uid, before: { source: 'local' }, after: null, via: 'import' } },
        touches: [uid],
        orphans: [uid],
        apply: async (trx) => {
          await trx.deleteFrom('group_members').where('group_id', '=', gid).where('user_id', '=', uid).execute();
        },
      });
    }
  });

  // Permissions.
  const declared = new Set<string>();
  (file.permissions ?? []).forEach((p, pi) => {
    const subjectKind = p.group !== undefined ? 'group' : 'user';
    const subjectName = (p.group ?? p.user)!;
    const subjectId = subjectKind === 'group' ? groupId.get(subjectName) : userId.get(subjectName);
    if (!subjectId) return problems.push({ field: `permissions.${pi}.${subjectKind}`, problem: `no such ${subjectKind} in the file or the database` });
    if (!assetExists(p.asset)) return problems.push({ field: `permissions.${pi}.asset`, problem: 'no such asset in the file or the database' });
    const mapKey = `${subjectKind}|${subjectId}|${p.asset}`;
    declared.add(mapKey);
    const key = `${subjectKind}:${subjectName} → ${p.asset}`;
    // A declared permission is complete: an absent window or limit means none.
    const wanted = { actions: sortActions(p.actions), timeWindow: normalizeWindow((p.timeWindow ?? null)), maxConcurrent: p.maxConcurrent ?? null };
    const row = state.permissions.get(mapKey);
    if (!row) {
      const id = newId(`permission:${mapKey}`);
      const after = { id, subjectKind, subjectId, assetId: p.asset, ...wanted };
      steps.push({
        change: { op: '+', kind: 'permission', key },
        audit: { action: 'permission.created', outcome: 'success', target: { kind: 'permission', id }, details: { after, via: 'import' } },
        touches: [],
        apply: async (trx, now) => {
          await trx
            .insertInto('permissions')
            .values({
              id,
              subject_kind: subjectKind,
              subject_id: subjectId,
              asset_id: p.asset,
              actions: jsonb([...wanted.actions]),
              time_window: wanted.timeWindow === null ? null : jsonb({ ...wanted.timeWindow }),
              max_concurrent: wanted.maxConcurrent,
              created_at_ms: now,
              updated_at_ms: now,
            })
            .execute();
        },
      });
      return;
    }
    const record = toGrantRecord(row);
    const current = { actions: record.actions as AssetAction[], timeWindow: record.timeWindow, maxConcurrent: record.maxConcurrent };
    const fields = (Object.keys(wanted) as Array<keyof typeof wanted>).filter((f) => !same(current[f], wanted[f]));
    if (fields.length === 0) return;
    steps.push({
      change: { op: '~', kind: 'permission', key, field: fields.join(','), before: pick(current, fields), after: pick(wanted, fields) },
      audit: { action: 'permission.updated', outcome: 'success', target: { kind: 'permission', id: row.id }, details: { before: pick(current, fields), after: pick(wanted, fields), via: 'import' } },
      touches: [],
      apply: async (trx, now) => {
        await trx
          .updateTable('permissions')
          .set({ actions: jsonb([...wanted.actions]), time_window: wanted.timeWindow === null ? null : jsonb({ ...wanted.timeWindow }), max_concurrent: wanted.maxConcurrent, updated_at_ms: now })
          .where('id', '=', row.id)
          .execute();
      },
    });
  });
  if (problems.length > 0) throw invalid(problems.slice(0, 50));

  // Pruning: what the file does not name, in sections it says it owns.
  const nameOfSubject = (kind: string, id: string) => (kind === 'group' ? [...state.groups.values()].find((g) => g.id === id)?.name : [...state.users.values()].find((u) => u.id === id)?.username) ?? id;
  if (prune.has('permissions')) {
    for (const [mapKey, row] of state.permissions) {
      if (declared.has(mapKey)) continue;
      steps.push({
        change: { op: '-', kind: 'permission', key: `${row.subject_kind}:${nameOfSubject(row.subject_kind, row.subject_id)} → ${row.asset_id}` },
        audit: { action: 'permission.deleted', outcome: 'success', target: { kind: 'permission', id: row.id }, details: { before: toGrantRecord(row), via: 'import' } },
        touches: [],
        apply: async (trx) => {
          await trx.deleteFrom('permissions').where('id', '=', row.id).execute();
        },
      });
    }
  }
  if (prune.has('assets')) {
    const keep = new Set((file.assets ?? []).map((a) => a.id));
    for (const [id, row] of state.assets) {
      if (keep.has(id)) continue;
      steps.push({
        change: { op: '-', kind: 'asset', key: id },
        audit: { action: 'asset.deleted', outcome: 'success', target: { kind: 'asset', id }, details: { before: assetAuditView(toAssetRecord(row), readDefinition(row.definition)), via: 'import' } },
        touches: [],
        apply: async (trx) => {
          await trx.deleteFrom('assets').where('id', '=', id).execute();
        },
      });
    }
  }
  if (prune.has('groups')) {
    const keep = new Set((file.groups ?? []).map((g) => g.name.toLowerCase()));
    for (const [name, row] of state.groups) {
      if (keep.has(name.toLowerCase())) continue;
      const members = membersOf(row.id);
      steps.push({
        change: { op: '-', kind: 'group', key: name },
        audit: { action: 'group.deleted', outcome: 'success', target: { kind: 'group', id: row.id }, details: { before: { id: row.id, name, description: row.description, roles: row.roles }, members: members.length, via: 'import' } },
        touches: members,
        orphans: members,
        apply: async (trx) => {
          await trx.deleteFrom('permissions').where('subject_kind', '=', 'group').where('subject_id', '=', row.id).execute();
          await trx.deleteFrom('groups').where('id', '=', row.id).execute();
        },
      });
    }
  }
  if (prune.has('users')) {
    const keep = new Set((file.users ?? []).map((u) => u.username));
    for (const [username, row] of state.users) {
      if (keep.has(username)) continue;
      steps.push({
        change: { op: '-', kind: 'user', key: username },
        audit: { action: 'user.deleted', outcome: 'success', target: { kind: 'user', id: row.id }, details: { before: { id: row.id, username, kind: row.kind, roles: row.roles, source: row.source }, via: 'import' } },
        touches: [row.id],
        orphans: [row.id],
        apply: async (trx) => {
          await trx.deleteFrom('permissions').where('subject_kind', '=', 'user').where('subject_id', '=', row.id).execute();
          await trx.deleteFrom('users').where('id', '=', row.id).execute();
        },
      });
    }
    assertAdminRemains(file, state, groupId, userId);
  }
  return steps;
}

/** Pruning users must not lock every administrator out. */
function assertAdminRemains(file: PolicyFile, state: State, groupId: Map<string, string>, userId: Map<string, string>): void {
  const adminGroups = new Set<string>();
  for (const g of file.groups ?? []) if ((g.roles ?? (state.groups.get(g.name)?.roles as Role[] | undefined) ?? []).includes('admin')) adminGroups.add(groupId.get(g.name)!);
  for (const g of state.groups.values()) if ((g.roles as Role[]).includes('admin') && (file.prune?.includes('groups') !== true || (file.groups ?? []).some((x) => x.name === g.name))) adminGroups.add(g.id);
  const anyAdmin = (file.users ?? []).some((u) => {
    const row = state.users.get(u.username);
    if (row !== undefined && row.disabled_at_ms !== null) return false;
    if ((u.kind ?? row?.kind) === 'service') return false;
    const roles = u.roles ?? (row?.roles as Role[] | undefined) ?? [];
    if (roles.includes('admin')) return true;
    const uid = userId.get(u.username);
    const inFileGroups = (file.groups ?? []).some((g) => g.members?.includes(u.username) && adminGroups.has(groupId.get(g.name)!));
    const inDbGroups = uid !== undefined && [...state.members.keys()].some((k) => adminGroups.has(k.split('|')[0]!) && k.endsWith(`|${uid}`));
    return inFileGroups || inDbGroups;
  });
  if (!anyAdmin) throw invalid([{ field: 'prune', problem: 'pruning users would leave no enabled administrator' }]);
}

function pick<T extends object>(value: T, fields: Array<keyof T>): Partial<T> {
  const out: Partial<T> = {};
  for (const f of fields) out[f] = value[f];
  return out;
}

/** One line per change: `+ user alice`, `~ group ops roles: ["operator"] → ["admin"]`, `- asset old`. */
export function formatChange(change: PolicyChange): string {
  const head = `${change.op} ${change.kind} ${change.key}`;
  if (change.op !== '~') return head;
  const before = change.before as Record<string, unknown>;
  const after = change.after as Record<string, unknown>;
  // JSON.stringify escapes control characters, so a value cannot rewrite the terminal.
  return Object.keys(after)
    .map((f) => `${head} ${f}: ${JSON.stringify(before[f] ?? null)} → ${JSON.stringify(after[f] ?? null)}`)
    .join('\n');
}

/**
 * Plans the import, records every change (before acting, as always), and
 * applies them in one transaction that first checks the database still
 * matches the plan. A dry run plans and reports only.
 */
export async function importPolicy(
  deps: ImportDeps,
  input: { source: string; fileName: string; dryRun: boolean; by: Principal; context?: RequestContext | undefined },
): Promise<ImportResult> {
  const { db, trail, clock, ids } = deps;
  const { file, warnings } = parsePolicyFile(input.source);
  const assigned = new Map<string, string>();
  const newId = (key: string) => {
    let id = assigned.get(key);
    if (!id) assigned.set(key, (id = ids.uuid()));
    return id;
  };
  const steps = plan(file, await readState(db), newId);
  const changes = steps.map((s) => s.change);
  const actor = { kind: input.by.kind, id: input.by.id, name: input.by.name };
  const context = { sourceIp: input.context?.sourceIp, userAgent: input.context?.userAgent, requestId: input.context?.requestId };
  const summary = (outcome: 'success' | 'failure', extra: Record<string, unknown> = {}) =>
    trail.record({
      actor,
      action: 'policy.imported',
      outcome,
      details: { file: input.fileName.slice(-200), dryRun: input.dryRun, created: count(changes, '+'), updated: count(changes, '~'), deleted: count(changes, '-'), ...extra },
      ...context,
    });
  if (input.dryRun || steps.length === 0) {
    await summary('success');
    return { changes, applied: false, warnings };
  }
  for (const step of steps) await trail.record({ actor, ...step.audit, ...context });
  const expected = changes.map(formatChange).join('\n');
  const now = clock.now();
  try {
    await db.transaction().execute(async (trx) => {
      // Someone else may have changed the policy since we planned: apply only if the plan is still exactly right.
      const again = plan(file, await readState(trx), newId);
      if (again.map((s) => formatChange(s.change)).join('\n') !== expected) {
        throw new AppError('conflict', { publicMessage: 'The policy changed while the import was being prepared; nothing was changed. Run it again.' });
      }
      for (const step of again) await step.apply(trx, now);
    });
  } catch (error) {
    await summary('failure', { reason: error instanceof AppError ? error.code : 'the transaction failed; nothing was changed' });
    throw error;
  }
  await summary('success');
  await settle(deps, [...new Set(steps.flatMap((s) => s.touches))], new Set(steps.flatMap((s) => s.orphans ?? [])), input.by);
  return { changes, applied: true, warnings };
}

async function settle(deps: ImportDeps, userIds: string[], orphans: ReadonlySet<string>, by: Principal): Promise<void> {
  if (!deps.effects) return;
  for (const userId of userIds) {
    const row = await deps.db.selectFrom('group_members').select(deps.db.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirst();
    const user = await deps.db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst();
    if (!user || (orphans.has(userId) && Number(row?.n ?? 0) === 0)) await deps.effects.endSessions(userId, by, 'policy import');
    else await deps.effects.refreshSessions(userId);
  }
}

function count(changes: PolicyChange[], op: PolicyChange['op']): number {
  return changes.filter((c) => c.op === op).length;
}
