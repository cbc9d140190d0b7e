import { mustUseMfa, type Principal, type Role } from '../identity/index.js';
import { isAssetAction, ROLE_PERMISSIONS, scopesCovering, type AssetAction, type Permission } from './permissions.js';
import { isWithinWindow, type TimeWindow } from './time-window.js';

/** A permission row: `subject` may do `actions` on `assetId`, maybe only in a weekly window and up to N sessions at once. */
export interface Grant {
  id: string;
  subjectKind: 'user' | 'group';
  subjectId: string;
  assetId: string;
  actions: readonly AssetAction[];
  timeWindow: TimeWindow | null;
  maxConcurrent: number | null;
}

/** What the decision needs to know about an asset. */
export interface AssetPolicy {
  id: string;
  /** Session callers must have signed in with a second factor to use it. */
  mfaRequired?: boolean | undefined;
}

/** What a reverse proxy's host rule asks of the caller (ForwardAuth); see forward-auth-rules.ts. */
export interface HostRequirement {
  /** The rule's host pattern, for the record. */
  rule: string;
  /** Names of groups of which the caller needs one (empty: no group condition). */
  groups: readonly string[];
  /** Roles of which the caller needs one (empty: no role condition). */
  roles: readonly Role[];
  /** Explicitly open to everyone who signed in. */
  anySignedInUser: boolean;
}

/** The action of ForwardAuth: pass through the proxy to an upstream host. */
export const PROXY_PASS = 'proxy.pass';

export interface DecisionInput {
  principal: Principal;
  action: Permission | AssetAction | typeof PROXY_PASS;
  /** Required for `proxy.pass`: the matching host rule, or null when no rule covers the host (denied). */
  host?: HostRequirement | null | undefined;
  /** Required for asset actions: an asset action without one is denied. */
  asset?: AssetPolicy | undefined;
  /** The grants on `asset` (all of them: the decision picks those of the principal and its groups). */
  grants?: readonly Grant[] | undefined;
  now: Date;
  /** Sessions the principal has open on `asset` now (for `connect` under a grant with `maxConcurrent`). */
  activeSessions?: number | undefined;
  /** Roles that need a second factor on web sessions for any role permission (defence in depth behind sign-in). */
  mfaRoles?: readonly Role[] | undefined;
}

/** Stable reason codes of a denial: they go into `auth.denied` audit records and nowhere a client sees more than `forbidden`. */
export type DenialReason =
  | 'invalid_request'
  | 'token_scope'
  | 'mfa_required'
  | 'role_lacks_permission'
  | 'asset_required'
  | 'no_grant'
  | 'outside_time_window'
  | 'max_concurrent_sessions'
  | 'on_behalf_of_denied'
  | 'no_host_rule'
  | 'not_in_group'
  | 'missing_role';

export type Decision = { allowed: true; grantId?: string | undefined } | { allowed: false; reason: DenialReason; detail: string };

/**
 * The one access decision. Pure: no I/O, no clock (the caller passes `now`),
 * so REST, WebSocket, MCP, CLI and ForwardAuth decide alike and a test can
 * cover every case. Anything not explicitly allowed is denied.
 */
export function decide(input: DecisionInput): Decision {
  const { principal, action } = input;
  if (!validPrincipal(principal) || !(input.now instanceof Date) || Number.isNaN(input.now.getTime())) {
    return deny('invalid_request', 'malformed decision input');
  }
  const scoped = checkScopes(principal, action);
  if (scoped) return scoped;
  const own = decideFor(principal, input);
  if (!own.allowed || !principal.onBehalfOf) return own;
  // An agent acting for an operator may do only what both may: the operator is decided as a non-session caller.
  const operator: Principal = {
    kind: 'user',
    id: principal.onBehalfOf.id,
    name: principal.onBehalfOf.name,
    roles: principal.onBehalfOf.roles,
    groups: principal.onBehalfOf.groups,
    via: principal.via,
    mfa: principal.mfa,
  };
  if (!validPrincipal(operator)) return deny('invalid_request', 'malformed on-behalf-of principal');
  const theirs = decideFor(operator, input);
  if (!theirs.allowed) return deny('on_behalf_of_denied', `the operator it acts for is denied: ${theirs.reason}`);
  return own;
}

function decideFor(principal: Principal, input: DecisionInput): Decision {
  const { action } = input;
  if (action === PROXY_PASS) return decideHost(principal, input);
  if (isAssetAction(action)) return decideAsset(principal, action, input);
  if (!isPermission(action)) return deny('invalid_request', 'unknown action');
  if (!holds(principal.roles, action)) return deny('role_lacks_permission', `no role grants ${action}`);
  if (needsMfa(principal, input.mfaRoles)) return deny('mfa_required', 'this role needs a sign-in with a second factor');
  return { allowed: true };
}

function decideAsset(principal: Principal, action: AssetAction, input: DecisionInput): Decision {
  const asset = input.asset;
  if (!asset || typeof asset.id !== 'string' || asset.id === '') return deny('asset_required', 'no asset given');
  if (asset.mfaRequired === true && principal.via === 'session' && !principal.mfa) return deny('mfa_required', 'this asset needs a sign-in with a second factor');
  if (needsMfa(principal, input.mfaRoles)) return deny('mfa_required', 'this role needs a sign-in with a second factor');
  // Auditors and administrators replay any recording: that is their role, not a grant on each asset.
  if (action === 'replay' && holds(principal.roles, 'recordings.replay')) return { allowed: true };

  const groupIds = new Set(principal.groups.map((g) => g.id));
  const mine = (input.grants ?? []).filter(
    (g) =>
      g.assetId === asset.id &&
      Array.isArray(g.actions) &&
      g.actions.includes(action) &&
      ((g.subjectKind === 'user' && g.subjectId === principal.id) || (g.subjectKind === 'group' && groupIds.has(g.subjectId))),
  );
  if (mine.length === 0) return deny('no_grant', `no grant of ${action} on this asset to the caller or its groups`);

  // Any one matching grant that allows now is enough; otherwise report the most specific reason.
  let reason: Decision | undefined;
  for (const grant of mine) {
    const window = grant.timeWindow === null ? true : isWithinWindow(grant.timeWindow, input.now);
    if (window !== true) {
      reason ??= deny('outside_time_window', window === false ? 'outside the grant’s weekly time window' : `the grant’s time window is invalid: ${window.invalid}`);
      continue;
    }
    if (action === 'connect' && grant.maxConcurrent !== null) {
      const active = input.activeSessions;
      // Unknown count under a limit: fail closed.
      if (typeof active !== 'number' || !Number.isFinite(active) || active < 0 || active >= grant.maxConcurrent) {
        reason = deny('max_concurrent_sessions', `at most ${grant.maxConcurrent} concurrent sessions`);
        continue;
      }
    }
    return { allowed: true, grantId: grant.id };
  }
  return reason!;
}

/** A rule with groups needs one of them; with roles, one of them; with both, one of each. No rule: denied. */
function decideHost(principal: Principal, input: DecisionInput): Decision {
  const rule = input.host;
  if (!rule) return deny('no_host_rule', 'no forward-auth rule for this host');
  if (needsMfa(principal, input.mfaRoles)) return deny('mfa_required', 'this role needs a sign-in with a second factor');
  if (rule.anySignedInUser) return { allowed: true };
  if (rule.groups.length > 0 && !principal.groups.some((g) => rule.groups.includes(g.name))) {
    return deny('not_in_group', `not in a group the rule for ${rule.rule} requires`);
  }
  if (rule.roles.length > 0 && !principal.roles.some((r) => rule.roles.includes(r))) return deny('missing_role', `no role the rule for ${rule.rule} requires`);
  if (rule.groups.length === 0 && rule.roles.length === 0) return deny('no_host_rule', `the rule for ${rule.rule} names no group or role`);
  return { allowed: true };
}

function checkScopes(principal: Principal, action: DecisionInput['action']): Decision | undefined {
  // No scope list: a session or the CLI (identity sets one on every token).
  if (principal.scopes === undefined) return undefined;
  const scopes: unknown = principal.scopes;
  if (!Array.isArray(scopes)) return deny('invalid_request', 'malformed scopes');
  const covering = scopesCovering(action);
  return scopes.some((s: unknown) => typeof s === 'string' && covering.includes(s)) ? undefined : deny('token_scope', `needs one of the scopes ${covering.join(', ')}`);
}

/** Identity's sign-in rule (admin and auditor always, plus the configured roles), checked again on every web-session decision. */
function needsMfa(principal: Principal, mfaRoles: readonly Role[] | undefined): boolean {
  if (principal.via !== 'session' || principal.mfa) return false;
  return mustUseMfa(principal.roles, false, mfaRoles ?? []);
}

function holds(roles: readonly Role[], permission: Permission): boolean {
  return roles.some((role) => Object.hasOwn(ROLE_PERMISSIONS, role) && (ROLE_PERMISSIONS[role] as readonly string[]).includes(permission));
}

const ALL_PERMISSIONS = new Set<string>(Object.values(ROLE_PERMISSIONS).flat());
function isPermission(value: string): value is Permission {
  return ALL_PERMISSIONS.has(value);
}

function validPrincipal(p: Principal): boolean {
  return (
    p !== null &&
    typeof p === 'object' &&
    typeof p.id === 'string' &&
    p.id !== '' &&
    Array.isArray(p.roles) &&
    Array.isArray(p.groups) &&
    (p.groups as readonly unknown[]).every((g) => g !== null && typeof g === 'object' && typeof (g as { id?: unknown }).id === 'string')
  );
}

function deny(reason: DenialReason, detail: string): Decision {
  return { allowed: false, reason, detail };
}
