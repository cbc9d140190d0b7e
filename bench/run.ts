/**
 * `npm run bench`: the benchmarks of this project. Not a test: figures are
 * printed, and the exit code is 1 only when a correctness check failed
 * (a goal missed is reported, not fatal).
 *
 * `npm run bench` runs all of them; `npm run bench -- audit` or
 * `npm run bench -- forward-auth` or `npm run bench -- sessions` or `npm run bench -- recording` or `npm run bench -- mcp` runs one. Settings: see bench/audit-ingest.ts
 * (BENCH_SECONDS, BENCH_PRODUCERS, BENCH_DATABASE_URL, ...) and
 * bench/forward-auth.ts (BENCH_FA_SECONDS, BENCH_FA_CONNECTIONS, BENCH_FA_BACKENDS, BENCH_REDIS_URL) and
 * bench/sessions.ts (BENCH_SESSIONS_N, BENCH_SESSIONS_HELD, BENCH_SESSIONS_PROBES, BENCH_SESSIONS_STREAM_SECONDS, BENCH_SESSIONS_DATABASE_URL, BENCH_SESSIONS_REDIS_URL) and
 * bench/recording/index.ts (BENCH_REC_SECONDS, BENCH_REC_CONCURRENT, BENCH_REC_BURST_SECONDS, BENCH_REC_SEEK_MINUTES, BENCH_REC_SEEKS) and
 * bench/mcp.ts (BENCH_MCP_TASKS, BENCH_MCP_AGENTS, BENCH_MCP_AGENT_ROUNDS, BENCH_MCP_ECHO).
 */
import { configFromEnv, runAuditIngest } from './audit-ingest.js';
import { forwardAuthConfigFromEnv, runForwardAuth } from './forward-auth.js';
import { mcpConfigFromEnv, runMcp } from './mcp.js';
import { recordingConfigFromEnv, runRecording } from './recording/index.js';
import { runSessions, sessionsConfigFromEnv } from './sessions.js';

const BENCHMARKS = {
  audit: () => runAuditIngest(configFromEnv(process.env)),
  'forward-auth': () => runForwardAuth(forwardAuthConfigFromEnv(process.env)),
  sessions: () => runSessions(sessionsConfigFromEnv(process.env)),
  recording: () => runRecording(recordingConfigFromEnv(process.env)),
  mcp: () => runMcp(mcpConfigFromEnv(process.env)),
} as const;

const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!Object.hasOwn(BENCHMARKS, name)) throw new Error(`unknown benchmark ${name}; expected one of ${Object.keys(BENCHMARKS).join(', ')}`);
}
let ok = true;
for (const [name, run] of Object.entries(BENCHMARKS)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  ok = (await run()) && ok;
}
process.exitCode = ok ? 0 : 1;
