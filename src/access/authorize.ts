import { AppError } from '../core/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { Principal } from '../identity/index.js';
import { ROLE_PERMISSIONS, type Permission } from './permissions.js';

export interface RequestContext {
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
  requestId?: string | undefined;
}

export interface Access {
  /** Resolves when `principal` holds `permission`; otherwise records `auth.denied` and throws `forbidden`. */
  authorize(principal: Principal, permission: Permission, context?: RequestContext): Promise<void>;
}

export function createAccess(deps: { trail: AuditTrail }): Access {
  return {
    async authorize(principal, permission, context = {}) {
      const allowed = principal.roles.some((role) => (ROLE_PERMISSIONS[role] as readonly string[]).includes(permission));
      if (allowed) return;
      await deps.trail.record({
        actor: { kind: principal.kind, id: principal.id, name: principal.name },
        action: 'auth.denied',
        outcome: 'denied',
        details: { permission },
        ...context,
      });
      throw new AppError('forbidden');
    },
  };
}
