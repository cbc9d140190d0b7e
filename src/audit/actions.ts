/**
 * Every audit action the product records, named `noun.verb` (or
 * `noun.sub.verb`), with a stable meaning. An action is never renamed or
 * reused; `docs/audit-events.md` lists each and a test keeps the two equal.
 */
export const AUDIT_ACTIONS = {
  'system.started': 'A node started; details hold the version and the database kind.',
  'system.stopped': 'A node stopped cleanly; details hold the reason.',
  'audit.read': 'Someone read audit events through the API; details hold the filters and the count.',
  'audit.exported': 'Someone exported audit events; details hold the format and the filters.',
  'audit.verified': 'The chain was verified; outcome success or failure, details hold the count and the first broken sequence number.',
  'audit.spool.drained': 'Events written to the local spool during a database outage were moved into the database.',
  'auth.token.failed': 'A request presented an API token that is unknown, revoked or expired.',
  'auth.denied': 'An authenticated caller was refused an action for lack of permission.',
  'token.created': 'An API token was created; details hold its name and role, never the token.',
  'token.revoked': 'An API token was revoked.',
} as const;

export type AuditAction = keyof typeof AUDIT_ACTIONS;

export function isAuditAction(name: string): name is AuditAction {
  return Object.hasOwn(AUDIT_ACTIONS, name);
}
