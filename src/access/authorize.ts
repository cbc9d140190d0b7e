import type { Kysely } from 'kysely';
import { AppError, systemClock, type Clock } from '../core/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { Principal, Role } from '../identity/index.js';
import type { Tables } from '../store/index.js';
import { toAssetRecord, ASSET_ID, type AssetRecord } from './assets.js';
import { decide, type Decision, type DenialReason } from './decide.js';
import { toGrantRecord } from './grants.js';
import type { AssetAction, Permission } from './permissions.js';

import type { RequestContext } from './request-context.js';

export type { RequestContext } from './request-context.js';

/** What the caller knows about the attempt beyond the request (the count only it can know). */
export interface AssetContext extends RequestContext {
  /** Sessions the principal has open on the asset now; needed to `connect` under a grant with a concurrency limit. */
  activeSessions?: number | undefined;
}

/** An asset as a caller who may use it sees it. */
export interface AssetSummary {
  id: string;
  name: string;
  url: string;
  /** False when a grant exists but does not allow it right now; `reason` says why. */
  available: boolean;
  reason?: DenialReason | undefined;
}

export interface Access {
  /** Resolves when `principal` holds `permission`; otherwise records `auth.denied` and throws `forbidden`. */
  authorize(principal: Principal, permission: Permission, context?: RequestContext): Promise<void>;
  /**
   * Resolves when `principal` may do `action` on the asset now; otherwise
   * records `auth.denied` with the reason and throws `forbidden` (also for an
   * unknown asset, so a refusal does not reveal which assets exist).
   */
  authorizeAsset(principal: Principal, action: AssetAction, assetId: string, context?: AssetContext): Promise<void>;
  /** The assets `principal` holds `action` on (through any grant), with whether the grant allows it now. */
  visibleAssets(principal: Principal, action: AssetAction): Promise<AssetSummary[]>;
}

export interface AccessDeps {
  trail: AuditTrail;
  /** Without a database, asset actions are denied (the CLI and tests that only need role permissions). */
  db?: Kysely<Tables> | undefined;
  clock?: Clock | undefined;
  /** Roles whose web sessions need a second factor (WEBASSET_MFA_REQUIRED_ROLES). */
  mfaRoles?: readonly Role[] | undefined;
}

/** Reasons a grant exists but does not allow the action now: such an asset stays listed, marked unavailable. */
const TRANSIENT: ReadonlySet<DenialReason> = new Set(['outside_time_window', 'max_concurrent_sessions', 'mfa_required']);

export function createAccess(deps: AccessDeps): Access {
  const { trail, db } = deps;
  const clock = deps.clock ?? systemClock;

  async function denied(principal: Principal, details: Record<string, unknown>, context: RequestContext, target?: { kind: string; id: string }): Promise<never> {
    await trail.record({
      actor: { kind: principal.kind, id: principal.id, name: principal.name },
      action: 'auth.denied',
      outcome: 'denied',
      target: target ?? null,
      details: { ...details, via: principal.via, ...(principal.onBehalfOf ? { onBehalfOf: principal.onBehalfOf.id } : {}) },
      sourceIp: context.sourceIp,
      userAgent: context.userAgent,
      requestId: context.requestId,
    });
    throw new AppError('forbidden');
  }

  const subjectsOf = (p: Principal) => {
    const users = [p.id, ...(p.onBehalfOf ? [p.onBehalfOf.id] : [])];
    const groups = [...p.groups, ...(p.onBehalfOf?.groups ?? [])].map((g) => g.id);
    return { users, groups };
  };

  async function grantsFor(p: Principal, assetId: string | undefined) {
    if (!db) return [];
    const subjects = subjectsOf(p);
    const users = subjects.users.filter(isUuid);
    const groups = subjects.groups.filter(isUuid);
    if (users.length === 0 && groups.length === 0) return [];
    const rows = await db
      .selectFrom('permissions')
      .selectAll()
      .$if(assetId !== undefined, (q) => q.where('asset_id', '=', assetId!))
      .where((eb) =>
        eb.or([
          ...(users.length > 0 ? [eb.and([eb('subject_kind', '=', 'user'), eb('subject_id', 'in', users)])] : []),
          ...(groups.length > 0 ? [eb.and([eb('subject_kind', '=', 'group'), eb('subject_id', 'in', groups)])] : []),
        ]),
      )
      .execute();
    return rows.map(toGrantRecord);
  }

  return {
    async authorize(principal, permission, context = {}) {
      const decision = decide({ principal, action: permission, now: new Date(clock.now()), mfaRoles: deps.mfaRoles });
      if (decision.allowed) return;
      await denied(principal, { permission, reason: decision.reason, detail: decision.detail }, context);
    },

    async authorizeAsset(principal, action, assetId, context = {}) {
      const target = { kind: 'asset', id: typeof assetId === 'string' ? assetId.slice(0, 64) : 'invalid' };
      const asset = db && typeof assetId === 'string' && ASSET_ID.test(assetId) ? await db.selectFrom('assets').selectAll().where('id', '=', assetId).executeTakeFirst() : undefined;
      if (!asset) return denied(principal, { action, reason: 'unknown_asset', detail: 'no such asset' }, context, target);
      const record = toAssetRecord(asset);
      const decision = decide({
        principal,
        action,
        asset: { id: record.id, mfaRequired: record.mfaRequired },
        grants: await grantsFor(principal, record.id),
        now: new Date(clock.now()),
        activeSessions: context.activeSessions,
        mfaRoles: deps.mfaRoles,
      });
      if (decision.allowed) return;
      await denied(principal, { action, reason: decision.reason, detail: decision.detail }, context, target);
    },

    async visibleAssets(principal, action) {
      if (!db) return [];
      const now = new Date(clock.now());
      const probe = (asset: AssetRecord, grants: Awaited<ReturnType<typeof grantsFor>>): Decision =>
        // Visibility ignores the concurrency count: the list says what exists for the caller, connect checks the count.
        decide({ principal, action, asset: { id: asset.id, mfaRequired: asset.mfaRequired }, grants, now, activeSessions: 0, mfaRoles: deps.mfaRoles });
      const everything = decide({ principal, action, asset: { id: '*' }, grants: [], now, mfaRoles: deps.mfaRoles }).allowed;
      const grants = await grantsFor(principal, undefined);
      const assetIds = everything ? undefined : [...new Set(grants.map((g) => g.assetId))];
      if (assetIds !== undefined && assetIds.length === 0) return [];
      const rows = await db
        .selectFrom('assets')
        .selectAll()
        .$if(assetIds !== undefined, (q) => q.where('id', 'in', assetIds!))
        .orderBy('name')
        .orderBy('id')
        .execute();
      const out: AssetSummary[] = [];
      for (const asset of rows.map(toAssetRecord)) {
        const decision = probe(
          asset,
          grants.filter((g) => g.assetId === asset.id),
        );
        if (decision.allowed) out.push({ id: asset.id, name: asset.name, url: asset.url, available: true });
        else if (TRANSIENT.has(decision.reason)) out.push({ id: asset.id, name: asset.name, url: asset.url, available: false, reason: decision.reason });
      }
      return out;
    },
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
function isUuid(value: string): boolean {
  return UUID.test(value);
}
