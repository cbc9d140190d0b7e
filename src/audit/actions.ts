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
  'auth.sso.succeeded': 'A single sign-on (OpenID Connect) completed; details hold the issuer, subject, amr/acr and whether it counted as MFA. Recorded before the session exists.',
  'auth.sso.failed': 'A single sign-on callback was refused; details hold the reason (never shown to the client), never a code or token.',
  'token.created': 'An API token was created; details hold its name and role, never the token.',
  'token.revoked': 'An API token was revoked.',
  'session.created': 'A web session started after a sign-in; details hold the method and whether MFA was used, never the cookie value or CSRF token.',
  'session.rotated': 'A web session got a new id at a privilege change (second factor, roles or groups changed); the old cookie stopped working.',
  'session.ended': 'A web session ended: its owner signed out (reason logout, logout_all, session_revoked) or it timed out (idle_timeout, absolute_timeout).',
  'session.revoked': 'A web session was ended by someone other than its owner: an administrator, or the system (user disabled, deleted, MFA reset); details hold the reason.',
  'auth.session.failed': 'A request presented a session cookie that is unknown, altered, revoked or expired.',
  'auth.csrf.failed': 'A state-changing request was refused by the cross-site request forgery check (missing or wrong token, or another site as origin).',
  'group.created': 'A group was created; details hold it after the change.',
  'group.updated': 'A group was renamed or its description or roles changed; details hold before and after.',
  'group.deleted': 'A group was deleted with its memberships and permissions; details hold it before the change.',
  'group.member.added': 'A user was added to a group (local membership).',
  'group.member.removed': 'A user was removed from a group.',
  'asset.created': 'An asset (catalog entry) was created; details hold it after the change.',
  'asset.updated': 'An asset was changed; details hold before and after.',
  'asset.deleted': 'An asset was deleted with every permission on it; details hold it before the change.',
  'permission.created': 'A user or group was granted actions on an asset; details hold the permission after the change.',
  'permission.updated': 'A permission changed (actions, time window, concurrency limit); details hold before and after.',
  'permission.deleted': 'A permission was removed; details hold it before the change.',
  'policy.imported': 'A declarative policy file was applied (webasset import); details hold the counts of changes. Each change is recorded on its own too.',
  'group.memberships.synced': "A user's memberships from the provider's groups claim changed at sign-in; details hold before and after.",
  'user.created': 'A user was created (admin, CLI or first OIDC sign-in); details hold the record, never a secret.',
  'user.updated': 'A user was changed; details hold before and after, never a secret.',
  'user.disabled': 'A user was disabled and their sessions ended; details hold the reason.',
  'user.enabled': 'A disabled user was enabled again.',
  'user.deleted': 'A user was deleted and their sessions ended; details hold the record before.',
  'user.mfa_reset': 'A user\'s TOTP seed and recovery codes were forgotten and their sessions ended.',
  'user.enrolment_link.created': 'A one-time enrolment link was created for a user; details hold its purpose and expiry, never the token.',
  'user.password_set': 'A user set their password through an enrolment link.',
  'user.mfa_enrolled': 'A user enrolled TOTP and received new recovery codes.',
  'user.recovery_codes.regenerated': 'A signed-in user replaced their recovery codes.',
  'auth.login.succeeded': 'A local sign-in completed and a session was created; details hold the second factor used.',
  'auth.login.failed': 'A local sign-in or MFA step failed; details hold the reason (never shown to the client).',
  'user.unlocked': 'An administrator lifted the sign-in lockout of a user.',
  'alert.raised': 'An alert was raised (e.g. a burst of failed sign-ins) and sent to the alert webhooks; details hold its kind and subject.',
  'alert.delivery_failed': 'An alert could not be delivered to one webhook after its retries; details hold the receiver origin and the reason.',
  'vault.key.initialized': 'The vault recorded the check value of its master key at its first start; details hold the key id (a fingerprint, never the key).',
  'vault.secret.set': 'A vault entry got a new version (the previous one is kept, superseded); details hold the version, field names and key id, never a value.',
  'vault.secret.read': 'The browser module read a vault entry for a session; details hold the version, session, purpose and field names, never a value. Failed and refused reads are recorded too.',
  'vault.max_age.changed': 'The maximum age of a vault entry changed (no new version); details hold before and after in days.',
  'vault.secret.deleted': 'A vault entry was deleted with all its versions; details hold the last version and the field names.',
  'vault.reference.set': 'A vault entry was pointed at an external secret manager (Infisical): project, environment, path and secret names, never a value.',
  'vault.reference.deleted': 'The external reference of a vault entry was removed; its reads go to the built-in vault again.',
  'vault.key.rotation_started': 'A rotation of the vault master key started (or resumed); details hold the previous and the new key id.',
  'vault.key.rotated': 'A rotation of the vault master key finished: every data key is wrapped by the new key and the old key opens nothing; details hold both key ids and the count re-wrapped.',
} as const;

export type AuditAction = keyof typeof AUDIT_ACTIONS;

export function isAuditAction(name: string): name is AuditAction {
  return Object.hasOwn(AUDIT_ACTIONS, name);
}
