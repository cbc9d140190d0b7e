import type { FastifyInstance } from 'fastify';
import type { Assets, Grants } from '../../access/index.js';
import type { AuditService } from '../../audit/index.js';
import type { Groups, Users, WebSessions } from '../../identity/index.js';
import type { TrialLogin } from '../../sessions/index.js';
import { adminAlertRoutes } from './admin-alerts.js';
import { adminAssetRoutes } from './admin-assets.js';
import { adminGroupRoutes } from './admin-groups.js';
import { adminPermissionRoutes } from './admin-permissions.js';
import { adminTestLoginRoutes } from './admin-test-login.js';
import { adminUserRoutes } from './admin-users.js';

export interface AdminRouteDeps {
  users: Users;
  groups: Groups;
  assets: Assets;
  grants: Grants;
  sessions: Pick<WebSessions, 'listForUser' | 'revokeAllForUser'>;
  /** "Test login now" of an asset (a node with a browser pool). */
  trialLogin?: TrialLogin | undefined;
  /** The alerts raised, read from the trail (GET /api/admin/alerts). */
  alerts?: AuditService | undefined;
}

/** Everything under /api/admin except tokens (admin-tokens.ts): users, groups, memberships, assets, permissions. */
export async function adminRoutes(app: FastifyInstance, deps: AdminRouteDeps): Promise<void> {
  await app.register(adminUserRoutes, { users: deps.users, groups: deps.groups, grants: deps.grants, sessions: deps.sessions });
  await app.register(adminGroupRoutes, { groups: deps.groups });
  await app.register(adminAssetRoutes, { assets: deps.assets });
  await app.register(adminPermissionRoutes, { grants: deps.grants });
  if (deps.trialLogin) await app.register(adminTestLoginRoutes, { trialLogin: deps.trialLogin });
  if (deps.alerts) await app.register(adminAlertRoutes, { service: deps.alerts });
}
