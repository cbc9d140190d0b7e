import type { Migration } from 'kysely';
import * as auditTrail from './0001-audit-trail.js';
import * as apiTokens from './0002-api-tokens.js';
import * as identity from './0003-identity.js';
import * as vault from './0004-vault.js';
import * as vaultReferences from './0005-vault-references.js';
import * as browserSessions from './0006-browser-sessions.js';
import * as recordings from './0007-recordings.js';
import * as sessionOnBehalf from './0008-session-on-behalf.js';

/** Ordered by name; a released migration is never edited, only followed by a new one. */
export const MIGRATIONS: Record<string, Migration> = {
  '0001-audit-trail': auditTrail,
  '0002-api-tokens': apiTokens,
  '0003-identity': identity,
  '0004-vault': vault,
  '0005-vault-references': vaultReferences,
  '0006-browser-sessions': browserSessions,
  '0007-recordings': recordings,
  '0008-session-on-behalf': sessionOnBehalf,
};
