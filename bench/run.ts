/**
 * `npm run bench`: the benchmarks of this project. Not a test: figures are
 * printed, and the exit code is 1 only when a correctness check failed
 * (a goal missed is reported, not fatal). Settings: see bench/audit-ingest.ts
 * (BENCH_SECONDS, BENCH_PRODUCERS, BENCH_DATABASE_URL, ...).
 */
import { configFromEnv, runAuditIngest } from './audit-ingest.js';

const ok = await runAuditIngest(configFromEnv(process.env));
process.exitCode = ok ? 0 : 1;
