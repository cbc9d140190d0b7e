export { openDatabase, type CopyOut, type Database, type DatabaseKind, type DatabaseOptions } from './database.js';
export { isConnectionError } from './connection-errors.js';
export { GENESIS_HASH } from './migrations/0001-audit-trail.js';
export type * from './schema.js';
