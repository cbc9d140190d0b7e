import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, inject } from 'vitest';
import { openDatabase, type Database } from '../../src/store/index.js';

/** Set by CI to run the storage and audit suites on PostgreSQL as well as PGlite. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

export interface TestDatabase {
  database: Database;
  dataDir: string;
  /** PostgreSQL URL of this test's own database, when on PostgreSQL. */
  url: string | undefined;
  /** Opens a second handle on the same database (PostgreSQL), or reopens PGlite after close. */
  reopen(): Promise<Database>;
  cleanup(): Promise<void>;
}

/**
 * A fresh, migrated database for one test: PGlite in a temporary folder, or
 * (with TEST_DATABASE_URL) a new PostgreSQL database created from template0
 * and dropped afterwards, so test files never share state.
 */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'webasset-test-'));
  let url: string | undefined;
  if (TEST_DATABASE_URL) url = await createPgDatabase(TEST_DATABASE_URL);
  else seedEmbeddedCluster(dataDir);
  const open = () => openDatabase({ databaseUrl: url, dataDir, poolMax: 20 });
  const database = await open();
  if (options.migrate ?? true) await database.migrate();
  return {
    database,
    dataDir,
    url,
    reopen: open,
    async cleanup() {
      await database.close();
      if (url && TEST_DATABASE_URL) await dropPgDatabase(TEST_DATABASE_URL, url);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function createPgDatabase(adminUrl: string): Promise<string> {
  const name = `wa_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropPgDatabase(adminUrl: string, url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** Puts a copy of the initialized (empty) PGlite cluster where the product will look for it. */
export function seedEmbeddedCluster(dataDir: string): void {
  cpSync(inject('pgliteTemplate'), join(dataDir, 'db'), { recursive: true });
}

export interface FreshDatabase {
  /** This test's database (valid inside a test and its hooks). */
  readonly db: TestDatabase;
  /** Runs `close` after the test, before the database goes; the newest first. */
  defer(close: () => Promise<void>): void;
}

/** Gives every test of the enclosing `describe` a fresh database, and cleans up what the test deferred. */
export function useTestDatabase(): FreshDatabase {
  let current: TestDatabase | undefined;
  const closers: Array<() => Promise<void>> = [];
  beforeEach(async () => {
    current = await createTestDatabase();
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await current?.cleanup();
    current = undefined;
  });
  return {
    get db() {
      if (!current) throw new Error('useTestDatabase: the database exists only inside a test');
      return current;
    },
    defer: (close) => closers.push(close),
  };
}
