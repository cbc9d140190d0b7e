import { AppError, compileHostPattern, hostMatches, normalizeHost, type HostPattern } from '../core/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { ForwardAuthRuleConfig } from '../config/index.js';
import { ROLES, type Principal, type Role } from '../identity/index.js';
import type { RequestContext } from './authorize.js';

/**
 * Which upstream host a reverse proxy may let a caller through to. A host
 * without a rule is denied (deny by default). An exact rule wins over a
 * wildcard; a wildcard covers one label (see core/host-pattern.ts), so at
 * most one rule of each kind can match and rule order never matters.
 *
 * A rule with groups needs one of them; with roles, one of them; with both,
 * one of each. An agent acting on behalf of an operator passes only when
 * both would pass on their own.
 */
export interface ForwardAuthRule {
  host: HostPattern;
  groups: readonly string[];
  roles: readonly Role[];
  anySignedInUser: boolean;
}

export type ForwardAuthDecision =
  | { allowed: true; rule: string }
  | { allowed: false; reason: 'no_rule' | 'not_in_group' | 'missing_role'; rule: string | null };

export interface ForwardAuthRules {
  readonly rules: readonly ForwardAuthRule[];
  /** The rule for a normalized host, or undefined. */
  ruleFor(host: string): ForwardAuthRule | undefined;
  /** Pure: no I/O, no clock. */
  decide(principal: Principal, host: string | undefined): ForwardAuthDecision;
}

export function createForwardAuthRules(config: readonly ForwardAuthRuleConfig[]): ForwardAuthRules {
  const rules: ForwardAuthRule[] = config.map((rule) => {
    for (const role of rule.roles) if (!ROLES.includes(role)) throw new TypeError(`forwardAuth: unknown role ${role}`);
    return { host: compileHostPattern(rule.host), groups: [...rule.groups], roles: [...rule.roles], anySignedInUser: rule.anySignedInUser === true };
  });
  const exact = new Map<string, ForwardAuthRule>();
  const wildcards = new Map<string, ForwardAuthRule>();
  for (const rule of rules) {
    const key = rule.host.exact ?? rule.host.suffix!;
    const into = rule.host.exact !== undefined ? exact : wildcards;
    if (into.has(key)) throw new TypeError(`forwardAuth: two rules for ${rule.host.text}`);
    into.set(key, rule);
  }

  function ruleFor(host: string): ForwardAuthRule | undefined {
    const hit = exact.get(host);
    if (hit) return hit;
    const dot = host.indexOf('.');
    if (dot <= 0) return undefined;
    const wildcard = wildcards.get(host.slice(dot));
    return wildcard && hostMatches(wildcard.host, host) ? wildcard : undefined;
  }

  return {
    rules,
    ruleFor,
    decide(principal, rawHost) {
      const host = normalizeHost(rawHost);
      const rule = host === undefined ? undefined : ruleFor(host);
      if (!rule) return { allowed: false, reason: 'no_rule', rule: null };
      const refusal = check(rule, principal) ?? (principal.onBehalfOf ? check(rule, principal.onBehalfOf) : undefined);
      return refusal ? { allowed: false, reason: refusal, rule: rule.host.text } : { allowed: true, rule: rule.host.text };
    },
  };
}

function check(rule: ForwardAuthRule, who: { roles: readonly Role[]; groups: Principal['groups'] }): 'not_in_group' | 'missing_role' | undefined {
  if (rule.anySignedInUser) return undefined;
  if (rule.groups.length > 0 && !who.groups.some((g) => rule.groups.includes(g.name))) return 'not_in_group';
  if (rule.roles.length > 0 && !who.roles.some((r) => rule.roles.includes(r))) return 'missing_role';
  return undefined;
}

const REASON_TEXT = {
  no_rule: 'no forward-auth rule for this host',
  not_in_group: 'not in a group the host rule requires',
  missing_role: 'no role the host rule requires',
} as const;

export interface ForwardAuthGate {
  readonly rules: ForwardAuthRules;
  /**
   * Resolves when the caller may pass to `host`; otherwise records
   * `auth.denied` with the reason and throws `forbidden` (no audit record,
   * no pass: if the denial cannot be recorded, the caller still gets no access).
   */
  check(principal: Principal, host: string | undefined, context?: RequestContext): Promise<void>;
}

export function createForwardAuthGate(deps: { rules: ForwardAuthRules; trail: AuditTrail }): ForwardAuthGate {
  return {
    rules: deps.rules,
    async check(principal, host, context = {}) {
      const decision = deps.rules.decide(principal, host);
      if (decision.allowed) return;
      await deps.trail.record({
        actor: { kind: principal.kind, id: principal.id, name: principal.name },
        action: 'auth.denied',
        outcome: 'denied',
        target: { kind: 'forward_auth_host', id: normalizeHost(host) ?? '(invalid host)' },
        details: { entryPoint: 'forward_auth', reason: REASON_TEXT[decision.reason], code: decision.reason, rule: decision.rule },
        ...context,
      });
      throw new AppError('forbidden');
    },
  };
}
