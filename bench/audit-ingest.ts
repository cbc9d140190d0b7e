import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { createAudit, describeResult, type Audit } from '../src/audit/index.js';
import { canonicalJson, createRedactor, randomIds, systemClock } from '../src/core/index.js';
import { openDatabase, type Database } from '../src/store/index.js';
import { createCopyBatcher, createNaiveWriter } from './baselines.js';
import { BENCH_SECRETS, benchEvent } from './events.js';
import { drive, fmtInt, fmtMs, fmtRatio, positiveFromEnv, table, type DriveOptions, type RunResult } from './harness.js';

export interface AuditIngestConfig {
  /** Admin URL of the PostgreSQL server; each variant gets its own scratch database on it. */
  adminUrl: string;
  producers: number;
  seconds: number;
  warmupSeconds: number;
  maxEvents: number;
  batchMax: number;
  checkpointEvery: number;
  checkpointSeconds: number;
  poolMax: number;
  verifyRuns: number;
  /** Which variants to run: a, b, c, pglite (all by default; a subset is for profiling). */
  variants: ReadonlySet<string>;
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const SIGNING_KEY = Buffer.alloc(32, 11).toString('base64');
const NODE_ID = 'bench-node';

/** Reads BENCH_* variables; defaults are the product's defaults (src/config/settings.ts) where one exists. */
export function configFromEnv(env: NodeJS.ProcessEnv): AuditIngestConfig {
  const num = (name: string, fallback: number): number => positiveFromEnv(env, name, fallback, 'number');
  return {
    adminUrl: env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
    producers: num('BENCH_PRODUCERS', 200),
    seconds: num('BENCH_SECONDS', 8),
    warmupSeconds: num('BENCH_WARMUP_SECONDS', 1),
    maxEvents: num('BENCH_MAX_EVENTS', 1_000_000),
    batchMax: num('BENCH_BATCH_MAX', 1000),
    checkpointEvery: num('BENCH_CHECKPOINT_EVERY', 1000),
    checkpointSeconds: num('BENCH_CHECKPOINT_SECONDS', 1),
    poolMax: num('BENCH_POOL_MAX', 10),
    verifyRuns: num('BENCH_VERIFY_RUNS', 3),
    variants: new Set((env.BENCH_VARIANTS || 'a,b,c,pglite').split(',').map((v) => v.trim())),
  };
}

interface ChainReport {
  store: string;
  ingest: RunResult;
  /** Events in the table after the run (warm-up included). */
  stored: number;
  acknowledged: number;
  checkpoints: number;
  linear: boolean;
  verifyOk: boolean;
  verifyText: string;
  verifyRate: number;
  problems: string[];
}

/** Runs every variant, prints the figures and the goals; resolves false when a correctness check failed. */
export async function runAuditIngest(config: AuditIngestConfig): Promise<boolean> {
  const host = new URL(config.adminUrl).hostname;
  if (!LOCAL_HOSTS.has(host)) throw new Error(`the benchmark only runs against a local PostgreSQL (127.0.0.1), not ${host}`);
  const drives: DriveOptions = { producers: config.producers, seconds: config.seconds, maxEvents: config.maxEvents };
  const warmup: DriveOptions = { producers: config.producers, seconds: config.warmupSeconds, maxEvents: config.maxEvents };

  const loadBefore = loadavg()[0]!;
  const pgVersion = await adminQuery(config.adminUrl, 'SHOW server_version');
  const sample = Array.from({ length: 1000 }, (_, n) => canonicalJson(benchEvent(n).details)).join('').length / 1000;
  console.log('audit ingest benchmark');
  console.log(
    `  node ${process.version}, ${availableParallelism()} cores, PostgreSQL ${pgVersion} at ${host}; ` +
      `${config.producers} producers, ${config.seconds} s per variant (+${config.warmupSeconds} s warm-up), ` +
      `batchMax ${config.batchMax}, checkpoint every ${config.checkpointEvery} events / ${config.checkpointSeconds} s, ` +
      `pool ${config.poolMax}, details ~${Math.round(sample)} B\n`,
  );

  const runs = config.variants;
  const a = runs.has('a') ? await benchTrailOnPostgres(config, drives, warmup) : null;
  const b = runs.has('b') ? await benchNaive(config, drives, warmup) : null;
  const c = runs.has('c') ? await benchCopy(config, drives, warmup) : null;
  const embedded = runs.has('pglite') ? await benchTrailOnPGlite(config, drives, warmup) : null;

  console.log('\nIngest (acknowledged = durable: committed with synchronous_commit on)');
  const ingests = [a?.ingest, b, c, embedded?.ingest].filter((r): r is RunResult => r !== null && r !== undefined);
  const ingestRows = ingests.map((r) => [
    r.label,
    fmtInt(r.events),
    r.seconds.toFixed(1),
    fmtInt(r.rate),
    fmtMs(r.p50),
    fmtMs(r.p99),
    fmtMs(r.max),
    String(r.errors),
  ]);
  console.log(table(['variant', 'events', 's', 'events/s', 'p50 ms', 'p99 ms', 'max ms', 'errors'], ingestRows));
  const aRate = a?.ingest.rate ?? Number.NaN;
  const ab = aRate / (b?.rate ?? Number.NaN);
  const ac = aRate / (c?.rate ?? Number.NaN);
  console.log(`\nratios: a/b = ${fmtRatio(ab)}, a/c = ${fmtRatio(ac)}`);

  console.log('\nChain after (a)');
  const reports = [a, embedded].filter((r): r is ChainReport => r !== null);
  console.log(
    table(
      ['store', 'acknowledged', 'stored', 'checkpoints', 'one linear chain', 'verify', 'verify events/s'],
      reports.map((r) => [
        r.store,
        fmtInt(r.acknowledged),
        fmtInt(r.stored),
        fmtInt(r.checkpoints),
        r.linear ? 'yes' : 'NO',
        r.verifyOk ? 'OK' : 'FAILED',
        fmtInt(r.verifyRate),
      ]),
    ),
  );
  for (const r of reports) console.log(`  ${r.store}: ${r.verifyText}`);

  const p99 = a?.ingest.p99 ?? Number.NaN;
  const verifyRate = a?.verifyRate ?? Number.NaN;
  const linear = a ? a.linear && a.verifyOk : Number.NaN;
  const goals: Array<[string, string, boolean | null]> = [
    ['(a) >= 10x (b)', fmtRatio(ab), verdict(ab >= 10, ab)],
    ['(a) >= 0.5x (c)', fmtRatio(ac), verdict(ac >= 0.5, ac)],
    ['(a) >= 10,000 durable events/s', fmtInt(aRate), verdict(aRate >= 10_000, aRate)],
    ['(a) p99 <= 25 ms', `${fmtMs(p99)} ms`, verdict(p99 <= 25, p99)],
    [`one linear chain with ${config.producers} producers`, a ? (linear ? 'yes' : 'no') : '-', a ? linear === true : null],
    ['audit verify >= 200,000 events/s', fmtInt(verifyRate), verdict(verifyRate >= 200_000, verifyRate)],
  ];
  console.log('\nGoals (PostgreSQL)');
  const shown = (pass: boolean | null) => (pass === null ? 'not run' : pass ? 'PASS' : 'FAIL');
  console.log(table(['goal', 'measured', 'result'], goals.map(([goal, measured, pass]) => [goal, measured, shown(pass)])));
  console.log(`\nload average (1 min) before ${loadBefore.toFixed(2)}, after ${loadavg()[0]!.toFixed(2)} on ${availableParallelism()} cores`);

  const problems = reports.flatMap((r) => r.problems.map((p) => `${r.store}: ${p}`));
  for (const p of problems) console.error(`CHECK FAILED ${p}`);
  return problems.length === 0;
}

async function benchTrailOnPostgres(config: AuditIngestConfig, drives: DriveOptions, warmup: DriveOptions): Promise<ChainReport> {
  return withScratchDatabase(config, async (url, dataDir) => {
    const database = await openDatabase({ databaseUrl: url, dataDir, poolMax: config.poolMax });
    try {
      await database.migrate();
      return await benchTrail('(a) record() PostgreSQL', 'PostgreSQL', database, dataDir, config, drives, warmup);
    } finally {
      await database.close();
    }
  });
}

async function benchTrailOnPGlite(config: AuditIngestConfig, drives: DriveOptions, warmup: DriveOptions): Promise<ChainReport> {
  const dataDir = mkdtempSync(join(tmpdir(), 'webasset-bench-'));
  try {
    const database = await openDatabase({ dataDir });
    try {
      await database.migrate();
      return await benchTrail('(a) record() PGlite', 'PGlite', database, dataDir, config, drives, warmup);
    } finally {
      await database.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function benchTrail(
  label: string,
  store: string,
  database: Database,
  dataDir: string,
  config: AuditIngestConfig,
  drives: DriveOptions,
  warmup: DriveOptions,
): Promise<ChainReport> {
  // A variable, not a literal: deps the benchmark does not use (pageMax) may come and go without breaking it.
  const deps = {
    db: database.db,
    copyOut: database.copyOut,
    dataDir,
    signingKey: SIGNING_KEY,
    nodeId: NODE_ID,
    clock: systemClock,
    ids: randomIds,
    redactor: createRedactor(BENCH_SECRETS),
    logger: pino({ level: 'warn' }),
    batchMax: config.batchMax,
    checkpointEvery: config.checkpointEvery,
    checkpointSeconds: config.checkpointSeconds,
    pageMax: 500,
  };
  const audit: Audit = createAudit(deps);
  const problems: string[] = [];
  const seqs: number[] = [];
  let spooled = 0;
  const record = async (n: number) => {
    const receipt = await audit.trail.record(benchEvent(n));
    if (receipt.seq === null) spooled += 1;
    else seqs.push(receipt.seq);
  };
  await audit.trail.start();
  progress(label);
  const warm = await drive(label, record, warmup);
  const ingest = await drive(label, record, drives);
  await audit.trail.close();
  if (spooled > 0) problems.push(`${spooled} events went to the spool instead of the database`);

  const acknowledged = warm.events + ingest.events;
  const { rows } = await sql<{ n: number; lo: number | null; hi: number | null; links: number; hashes: number; head: number; cps: number }>`
    SELECT count(*)::int AS n, min(seq) AS lo, max(seq) AS hi,
      count(DISTINCT prev_hash)::int AS links, count(DISTINCT hash)::int AS hashes,
      (SELECT seq FROM audit_chain_head WHERE id = 1) AS head,
      (SELECT count(*)::int FROM audit_checkpoints) AS cps
    FROM audit_events`.execute(database.db);
  const s = rows[0]!;
  // Linear: seq 1..n without holes, every event names a different predecessor, and each acknowledged seq is unique.
  const uniqueSeqs = new Set(seqs).size === seqs.length;
  const linear = s.lo === 1 && s.hi === s.n && s.links === s.n && s.hashes === s.n && s.head === s.n && uniqueSeqs;
  if (!linear) problems.push(`chain is not one linear chain: ${JSON.stringify({ ...s, uniqueSeqs })}`);
  if (s.n !== acknowledged) problems.push(`${acknowledged} events acknowledged but ${s.n} stored`);

  progress(`${store} verify`);
  const times: number[] = [];
  let verified = await audit.reader.verify(audit.verifier);
  for (let i = 0; i < config.verifyRuns; i++) {
    const t0 = performance.now();
    verified = await audit.reader.verify(audit.verifier);
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((x, y) => x - y);
  const median = times[Math.floor(times.length / 2)]!;
  if (!verified.ok) problems.push(`verify failed: ${describeResult(verified)}`);
  if (verified.events !== s.n) problems.push(`verify walked ${verified.events} events of ${s.n}`);
  return {
    store,
    ingest,
    stored: s.n,
    acknowledged,
    checkpoints: s.cps,
    linear,
    verifyOk: verified.ok,
    verifyText: describeResult(verified),
    verifyRate: verified.events / median,
    problems,
  };
}

async function benchNaive(config: AuditIngestConfig, drives: DriveOptions, warmup: DriveOptions): Promise<RunResult> {
  const label = '(b) naive, 1 tx/event';
  return withMigratedPool(config, config.poolMax, async (pool) => {
    const write = createNaiveWriter(pool, prepareDeps());
    progress(label);
    await drive(label, (n) => write(benchEvent(n)), warmup);
    return drive(label, (n) => write(benchEvent(n)), drives);
  });
}

async function benchCopy(config: AuditIngestConfig, drives: DriveOptions, warmup: DriveOptions): Promise<RunResult> {
  const label = '(c) ceiling, raw COPY';
  return withMigratedPool(config, 1, async (pool) => {
    const client = await pool.connect();
    try {
      const write = createCopyBatcher(client, prepareDeps(), config.batchMax);
      progress(label);
      await drive(label, (n) => write(benchEvent(n)), warmup);
      return await drive(label, (n) => write(benchEvent(n)), drives);
    } finally {
      client.release();
    }
  });
}

function prepareDeps() {
  return { clock: systemClock, ids: randomIds, redactor: createRedactor(BENCH_SECRETS), nodeId: NODE_ID };
}

/** A scratch database, migrated, with a plain `pg` pool on it (the baselines bypass Kysely). */
async function withMigratedPool<T>(config: AuditIngestConfig, max: number, body: (pool: pg.Pool) => Promise<T>): Promise<T> {
  return withScratchDatabase(config, async (url, dataDir) => {
    const database = await openDatabase({ databaseUrl: url, dataDir });
    try {
      await database.migrate();
    } finally {
      await database.close();
    }
    const pool = new pg.Pool({ connectionString: url, max });
    let ended = false;
    // pool.end() resolves before the sockets close; the DROP that follows then cuts them, which is expected.
    pool.on('error', (error) => {
      if (!ended) console.error('idle connection failed:', error.message);
    });
    try {
      return await body(pool);
    } finally {
      ended = true;
      await pool.end();
    }
  });
}

/**
 * A fresh database from template0 and a temporary folder, removed afterwards.
 * A CHECKPOINT first, so that no variant pays for the WAL of the one before.
 */
async function withScratchDatabase<T>(config: AuditIngestConfig, body: (url: string, dataDir: string) => Promise<T>): Promise<T> {
  const name = `wa_bench_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'webasset-bench-'));
  await adminQuery(config.adminUrl, `CREATE DATABASE ${name} TEMPLATE template0`);
  await adminQuery(config.adminUrl, 'CHECKPOINT');
  const url = new URL(config.adminUrl);
  url.pathname = `/${name}`;
  try {
    return await body(url.toString(), dataDir);
  } finally {
    await adminQuery(config.adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function adminQuery(adminUrl: string, text: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const result = await client.query<Record<string, unknown>>(text);
    const first = result.rows[0];
    return first ? String(Object.values(first)[0]) : '';
  } finally {
    await client.end();
  }
}

function progress(what: string): void {
  process.stderr.write(`running ${what}...\n`);
}

/** Null when the figure was not measured (its variant did not run). */
function verdict(pass: boolean, figure: number): boolean | null {
  return Number.isNaN(figure) ? null : pass;
}
