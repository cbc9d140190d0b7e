import { AppError, compileHostPattern, type Clock, hostMatches, normalizeHost, type HostPattern } from '../core/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { ForwardAuthRuleConfig } from '../config/index.js';
import { ROLES, type Principal, type Role } from '../identity/index.js';
import type { RequestContext } from './authorize.js';
import { decide, PROXY_PASS, type DenialReason } from './decide.js';

/**
 * Which upstream host a reverse proxy may let a caller through to. A host
 * without a rule is denied (deny by default). An exact rule wins over a
 * wildcard; a wildcard covers one label (see core/host-pattern.ts), so at
 * most one rule of each kind can match and rule order never matters.
 *
 * The rule only says what a host asks for; whether the caller has it is
 * `decide()`'s answer (action `proxy.pass`), as for every other entry point:
 * a rule with groups needs one of them; with roles, one of them; with both,
 * one of each; an agent acting on behalf of an operator passes only when
 * both would; token scopes and the MFA rule for admin and auditor apply.
 */
export interface ForwardAuthRule {
  host: HostPattern;
  groups: readonly string[];
  roles: readonly Role[];
  anySignedInUser: boolean;
}

export type ForwardAuthDecision =
  | { allowed: true; rule: string }
  | { allowed: false; reason: DenialReason; detail: string; rule: string | null };

export interface ForwardAuthRules {
  readonly rules: readonly ForwardAuthRule[];
  /** The rule for a normalized host, or undefined. */
  ruleFor(host: string): ForwardAuthRule | undefined;
  /** Pure: no I/O, no clock (the caller passes `now`). */
  decide(principal: Principal, host: string | undefined, now: Date, mfaRoles?: readonly Role[]): ForwardAuthDecision;
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
    decide(principal, rawHost, now, mfaRoles) {
      const host = normalizeHost(rawHost);
      const rule = host === undefined ? undefined : ruleFor(host);
      const requirement = rule ? { rule: rule.host.text, groups: rule.groups, roles: rule.roles, anySignedInUser: rule.anySignedInUser } : null;
      const decision = decide({ principal, action: PROXY_PASS, host: requirement, now, mfaRoles });
      const ruleText = rule?.host.text ?? null;
      return decision.allowed ? { allowed: true, rule: ruleText! } : { allowed: false, reason: decision.reason, detail: decision.detail, rule: ruleText };
    },
  };
}

export interface ForwardAuthGate {
  readonly rules: ForwardAuthRules;
  /**
   * Resolves when the caller may pass to `host`; otherwise records
   * `auth.denied` with the reason and throws `forbidden` (no audit record,
   * no pass: if the denial cannot be recorded, the caller still gets no access).
   */
  check(principal: Principal, host: string | undefined, context?: RequestContext): Promise<void>;
  /**
   * The same decision as `check`, without recording anything: true only when
   * `check` would resolve. For the ForwardAuth fast path, which answers passes
   * itself and hands every other request to the full route (whose `check`
   * then records the denial).
   */
  passes(principal: Principal, host: string | undefined): boolean;
}

export function createForwardAuthGate(deps: { rules: ForwardAuthRules; trail: AuditTrail; clock: Clock; mfaRoles?: readonly Role[] }): ForwardAuthGate {
  return {
    rules: deps.rules,
    passes: (principal, host) => deps.rules.decide(principal, host, new Date(deps.clock.now()), deps.mfaRoles).allowed,
    async check(principal, host, context = {}) {
      const decision = deps.rules.decide(principal, host, new Date(deps.clock.now()), deps.mfaRoles);
      if (decision.allowed) return;
      await deps.trail.record({
        actor: { kind: principal.kind, id: principal.id, name: principal.name },
        action: 'auth.denied',
        outcome: 'denied',
        target: { kind: 'forward_auth_host', id: normalizeHost(host) ?? '(invalid host)' },
        details: { entryPoint: 'forward_auth', reason: decision.detail, code: decision.reason, rule: decision.rule },
        ...context,
      });
      throw new AppError('forbidden');
    },
  };
}
