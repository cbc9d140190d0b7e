import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { acquireEmbeddedLock } from './embedded-lock.js';
import { MIGRATIONS } from './migrations/index.js';
import { createPGliteDialect } from './pglite-dialect.js';
import type { Tables } from './schema.js';

export type DatabaseKind = 'pglite' | 'postgres';

export interface Database {
  readonly kind: DatabaseKind;
  readonly db: Kysely<Tables>;
  /** Resolves when a trivial query succeeds; rejects otherwise. */
  ping(): Promise<void>;
  /** Applies pending migrations; returns the names applied now. */
  migrate(): Promise<string[]>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** PostgreSQL URL; when absent the embedded PGlite in `dataDir` is used. */
  databaseUrl?: string | undefined;
  dataDir: string;
  poolMax?: number;
  /** Called for errors of idle pooled connections, which have no caller to reject. */
  onBackgroundError?: (error: Error) => void;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/** Opens the database the config names: PostgreSQL with a pool, or PGlite in the data folder. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options) : openPGlite(options.dataDir);
}

async function openPostgres(url: string, options: DatabaseOptions): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolMax ?? 10,
    connectionTimeoutMillis: 5_000,
    // A cut link must fail the query rather than hang an audit write forever.
    query_timeout: 15_000,
    keepAlive: true,
    // Sequence numbers and epoch milliseconds fit a double; strings would leak into every caller.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown =>
        oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  pool.on('error', (error) => options.onBackgroundError?.(error));
  // pg-pool drops its idle 'error' listener while a client is checked out, and Kysely adds none: a link
  // that dies between two queries of a transaction would be an uncaught exception and stop the process.
  // The holder still learns of it (its next query fails), and the pool discards the client on release.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  return wrap('postgres', db, async () => {
    await db.destroy();
  });
}

async function openPGlite(dataDir: string): Promise<Database> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const release = acquireEmbeddedLock(join(dataDir, 'db.lock'));
  try {
    const pglite = await PGlite.create(join(dataDir, 'db'), {
      parsers: { [INT8_OID]: (value: string) => Number(value), [NUMERIC_OID]: (value: string) => value },
    });
    const db = new Kysely<Tables>({ dialect: createPGliteDialect(pglite) });
    return wrap('pglite', db, async () => {
      await db.destroy();
      await pglite.close();
      release();
    });
  } catch (error) {
    release();
    throw error;
  }
}

function wrap(kind: DatabaseKind, db: Kysely<Tables>, close: () => Promise<void>): Database {
  let closed: Promise<void> | undefined;
  return {
    kind,
    db,
    async ping() {
      await sql`SELECT 1`.execute(db);
    },
    async migrate() {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS } });
      const { error, results } = await migrator.migrateToLatest();
      if (error) throw error instanceof Error ? error : new Error('migration failed');
      return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
    },
    close() {
      closed ??= close();
      return closed;
    },
  };
}
