import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
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
  /**
   * PostgreSQL only (undefined on PGlite): the rows of one read-only `SELECT`,
   * streamed as `COPY (…) TO STDOUT` in text format, raw chunks that may split
   * rows. Much cheaper per row than a driver result when a caller reads many.
   * See {@link CopyOut}.
   */
  readonly copyOut?: CopyOut;
  close(): Promise<void>;
}

/**
 * `select` is trusted SQL text written by the caller, with `$1`, `$2`, … for
 * `params`. COPY takes no bind parameters, so each parameter is written into
 * the text, which is why only safe integers are accepted. Stopping the
 * iteration early discards the connection, which is then mid-COPY.
 */
export type CopyOut = (select: string, params: readonly number[]) => AsyncGenerator<Buffer>;

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
  return {
    ...wrap('postgres', db, async () => {
      await db.destroy();
    }),
    copyOut: (select, params) => copyOut(pool, select, params),
  };
}

async function* copyOut(pool: pg.Pool, select: string, params: readonly number[]): AsyncGenerator<Buffer> {
  const text = inlineIntegers(select, params);
  const client = await pool.connect();
  let finished = false;
  let stream: ReturnType<typeof copyTo> & { callback?: () => void };
  try {
    stream = client.query(copyTo(`COPY (${text}) TO STDOUT`));
  } catch (error) {
    client.release(true);
    throw error;
  }
  try {
    for await (const chunk of stream) yield chunk as Buffer;
    finished = true;
  } finally {
    // pg arms its query_timeout timer for every query and clears it in the query's `callback`, which
    // pg-copy-streams never calls: without this, the timer holds the process open and later fails the
    // finished stream.
    stream.callback?.();
    // A COPY that did not run to its end leaves the connection in an unknown state: discard it.
    client.release(finished ? undefined : true);
  }
}

/** Writes the integer parameters into `$n` placeholders; anything else is refused. */
function inlineIntegers(select: string, params: readonly number[]): string {
  for (const value of params) {
    if (!Number.isSafeInteger(value)) throw new TypeError(`copyOut: parameter ${String(value)} is not a safe integer`);
  }
  return select.replace(/\$(\d+)/g, (_, n: string) => {
    const value = params[Number(n) - 1];
    if (value === undefined) throw new TypeError(`copyOut: no parameter for $${n}`);
    // Parenthesized: a negative value after a minus sign must not become a `--` comment.
    return `(${String(value)})`;
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
