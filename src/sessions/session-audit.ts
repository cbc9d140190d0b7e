import type { RequestContext } from '../access/index.js';
import type { Actor, AuditAction, AuditTrail, Outcome } from '../audit/index.js';
import type { Principal } from '../identity/index.js';

/**
 * The audit events of browser sessions, target `browser_session`. Details
 * name the vault entry `vaultEntry` (the redactor blanks fields named
 * credential) and never hold a value.
 */
export interface SessionAudit {
  readonly system: Actor;
  actorOf(principal: Principal): Actor;
  /** `target`: a session id, or another target (a refused start names the asset). */
  record(action: AuditAction, outcome: Outcome, target: string | { kind: string; id: string }, actor: Actor, details: Record<string, unknown>, context?: RequestContext): Promise<void>;
}

export function createSessionAudit(trail: AuditTrail, nodeId: string): SessionAudit {
  return {
    system: { kind: 'system', id: nodeId, name: 'webasset' },
    actorOf: (p) => ({ kind: p.kind, id: p.id, name: p.name }),
    async record(action, outcome, target, actor, details, context = {}) {
      await trail.record({
        actor,
        action,
        outcome,
        target: typeof target === 'string' ? { kind: 'browser_session', id: target } : target,
        details,
        sourceIp: context.sourceIp,
        userAgent: context.userAgent,
        requestId: context.requestId,
      });
    },
  };
}

/** Who acted, for the details: an agent acting for an operator names the operator too. */
export function viaOf(principal: Principal): Record<string, unknown> {
  return { via: principal.via, ...(principal.onBehalfOf ? { onBehalfOf: principal.onBehalfOf.id } : {}) };
}
