import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { chromium, type Browser } from 'playwright-core';
import { wireMcp } from '../src/app.js';
import { DEFAULT_LAUNCH_ARGS } from '../src/browser/index.js';
import { createDemoPortal, DEMO_CREDENTIALS } from '../src/demo-portal/index.js';
import { BENCH_ADMIN } from './api-caller.js';
import { fmtInt, fmtMs, fmtRatio, percentile, positiveFromEnv, table } from './harness.js';
import { TAPPED_ACTIONS, tapAgentControls, type AgentTaps } from './mcp-tap.js';
import { connectOurMcp, httpProbe, inProcessPingProbe, rawPingProbe, runProbes, startPlaywrightMcp, type Probe } from './mcp-clients.js';
import { taskOurMcp, taskPlaywright, taskPlaywrightMcp, type CallRecord, type TaskRecord } from './mcp-task.js';
import { startProductNode, stopProductNode, type ProductNode } from './product-node.js';

/**
 * `bench/mcp`: one scripted agent task (open the demo portal logged in, read the balance, submit a
 * transfer, close) through (a) our `/mcp`, (b) `@playwright/mcp` on the same Chromium, where the
 * agent logs in itself, and (c) Playwright API calls (the floor). See docs/benchmarks.md, "MCP".
 */
export interface McpBenchConfig {
  /** Measured tasks per variant (after one unmeasured warm-up task each). */
  tasks: number;
  /** Agents running the task at once through (a). */
  agents: number;
  /** Rounds of the concurrent phase (each: every agent runs the task once, all at the same time). */
  agentRounds: number;
  /** Calls per echo probe (after 20 unmeasured). */
  echo: number;
  /** Print one measured task's transcript per MCP variant (tool, arguments, result text). */
  transcript: boolean;
  chromiumPath: string;
}

export function mcpConfigFromEnv(env: NodeJS.ProcessEnv): McpBenchConfig {
  const num = (name: string, fallback: number): number => positiveFromEnv(env, name, fallback, 'integer');
  return {
    tasks: num('BENCH_MCP_TASKS', 10),
    agents: num('BENCH_MCP_AGENTS', 10),
    agentRounds: num('BENCH_MCP_AGENT_ROUNDS', 2),
    echo: num('BENCH_MCP_ECHO', 300),
    transcript: env.BENCH_MCP_TRANSCRIPT === '1',
    chromiumPath: env.CHROMIUM_PATH || '/usr/bin/chromium',
  };
}

const ASSET_ID = 'bench-mcp';
const VARIANTS = ['a', 'b', 'c'] as const;
type Variant = (typeof VARIANTS)[number];
const VARIANT_LABEL: Record<Variant, string> = {
  a: '(a) our /mcp',
  b: '(b) @playwright/mcp',
  c: '(c) Playwright API',
};

interface Stats {
  n: number;
  p50: number;
  p95: number;
  max: number;
}

function stats(values: readonly number[]): Stats {
  const sorted = Float64Array.from(values).sort();
  return { n: sorted.length, p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN };
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

// ---------------------------------------------------------------------------------------------
// Fixtures: the asset, its vault entry, and one service account with an agent token per agent.

interface Agent {
  userId: string;
  token: string;
}

async function createFixtures(node: ProductNode, portalUrl: string, agents: number): Promise<Agent[]> {
  const { vault, assets, grants, users, tokens, systemActor } = node.services;
  const values = new Map([
    ['username', Buffer.from(DEMO_CREDENTIALS.username)],
    ['password', Buffer.from(DEMO_CREDENTIALS.password)],
  ]);
  await vault.set({ entryId: 'bench-mcp-login', values }, systemActor);
  await assets.create(
    {
      id: ASSET_ID,
      name: 'Demo Bank (bench/mcp)',
      url: portalUrl,
      startUrl: `${portalUrl}/login`,
      credential: 'bench-mcp-login',
      loginRecipe: null,
      successCheck: { selector: '#balance' },
      allowedHosts: ['127.0.0.1'],
      allowInsecureHttp: true,
      // Every agent has a session of its own on the one credential at once.
      policy: { idleTimeoutMinutes: 60, maxSessions: null, maxSessionsPerCredential: agents + 5 },
    },
    BENCH_ADMIN,
  );
  const out: Agent[] = [];
  for (let i = 0; i < agents; i++) {
    const account = await users.create({ username: `bench-agent-${i}-${randomUUID().slice(0, 6)}`, kind: 'service', roles: ['agent'], source: 'local' }, BENCH_ADMIN);
    await grants.create({ subjectKind: 'user', subjectId: account.id, assetId: ASSET_ID, actions: ['connect'] }, BENCH_ADMIN);
    // `api:read` too: the plain-HTTP baseline reads GET /api/... with the same token.
    const created = await tokens.create({ name: `bench agent ${i}`, serviceAccountId: account.id, scopes: ['mcp', 'api:read'], createdBy: BENCH_ADMIN });
    out.push({ userId: account.id, token: created.token });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

interface Measured {
  tasks: Record<Variant, TaskRecord[]>;
  errors: Record<Variant, string[]>;
}

async function runTasks(drivers: Partial<Record<Variant, () => Promise<TaskRecord>>>, count: number, afterWarmup: () => void): Promise<Measured> {
  const measured: Measured = { tasks: { a: [], b: [], c: [] }, errors: { a: [], b: [], c: [] } };
  const present = VARIANTS.filter((v) => drivers[v] !== undefined);
  // One unmeasured task each (launches, first compilations), then `count` rounds in a rotating order.
  for (const v of present) {
    await drivers[v]!().catch((error: unknown) => measured.errors[v].push(`warm-up: ${(error as Error).message}`));
  }
  afterWarmup();
  for (let round = 0; round < count; round++) {
    for (let k = 0; k < present.length; k++) {
      const v = present[(round + k) % present.length]!;
      try {
        measured.tasks[v].push(await drivers[v]!());
      } catch (error) {
        measured.errors[v].push((error as Error).message);
      }
    }
  }
  return measured;
}

interface Concurrent {
  agents: number;
  rounds: number;
  tasks: TaskRecord[];
  errors: string[];
  seconds: number;
  taps?: AgentTaps;
}

/** Runs every task function at the same moment, `rounds` times over. */
async function runAtOnce(tasks: ReadonlyArray<() => Promise<TaskRecord>>, rounds: number): Promise<Concurrent> {
  const result: Concurrent = { agents: tasks.length, rounds, tasks: [], errors: [], seconds: 0 };
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    await Promise.all(
      tasks.map(async (task) => {
        try {
          result.tasks.push(await task());
        } catch (error) {
          result.errors.push((error as Error).message);
        }
      }),
    );
  }
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}

/** A client on our /mcp with the tools the task needs, or null (and why, in `problems`) when this build has none. */
async function connectIfAvailable(baseUrl: string, token: string, problems: string[]): Promise<Client | null> {
  let client: Client | null = null;
  try {
    client = await connectOurMcp(baseUrl, token);
    const names = new Set((await client.listTools()).tools.map((t) => t.name));
    const missing = ['open_session', 'snapshot', 'click', 'type', 'close_session', 'list_sessions'].filter((n) => !names.has(n));
    if (missing.length > 0) throw new Error(`tools missing: ${missing.join(', ')}`);
    return client;
  } catch (error) {
    await client?.close().catch(() => undefined);
    problems.push(`(a) not measurable: our /mcp is not available in this build (${(error as Error).message.slice(0, 300)})`);
    return null;
  }
}

/** Prints the figures and the goals; resolves false when a correctness check failed. */
export async function runMcp(config: McpBenchConfig): Promise<boolean> {
  console.log('\nMCP benchmark (demo portal on loopback; product in this process; @playwright/mcp as a child process over stdio; same Chromium)');
  console.log(
    `  node ${process.version}, ${availableParallelism()} cores, load average ${load()} at start; ${config.tasks} tasks per variant, ` +
      `${config.agents} agents x ${config.agentRounds} rounds, ${config.echo} calls per echo probe; Chromium ${config.chromiumPath}\n`,
  );
  const problems: string[] = [];
  const workDir = mkdtempSync(join(tmpdir(), 'webasset-bench-mcp-'));
  const portal = createDemoPortal({ username: DEMO_CREDENTIALS.username, password: DEMO_CREDENTIALS.password });
  const portalUrl = await portal.start(0, '127.0.0.1');
  const node = await startProductNode('webasset-bench-mcp-', {
    CHROMIUM_PATH: config.chromiumPath,
    // One token calls a few thousand tools within minutes: the limits are not what is measured.
    WEBASSET_API_RATE_LIMIT: '1000000',
    WEBASSET_MCP_TOOL_RATE_LIMIT: '1000000',
  });
  const taps = tapAgentControls(node.server.browser.pool);
  const resetTaps = () => TAPPED_ACTIONS.forEach((a) => (taps[a].length = 0));
  const copyTaps = (): AgentTaps => ({ snapshot: [...taps.snapshot], click: [...taps.click], type: [...taps.type] });
  const toClose: Array<() => Promise<unknown>> = [];
  try {
    const agents = await createFixtures(node, portalUrl, config.agents);
    const first = agents[0]!;

    // (a): our /mcp, if this build has it.
    const ours = await connectIfAvailable(node.url, first.token, problems);
    if (ours) toClose.push(() => ours.close());

    // (b): @playwright/mcp over stdio.
    const pw = await startPlaywrightMcp(config.chromiumPath, join(workDir, 'playwright-mcp'));
    toClose.push(() => pw.client.close());

    // (c): a warm Chromium of our own.
    const browser: Browser = await chromium.launch({ headless: true, executablePath: config.chromiumPath, args: [...DEFAULT_LAUNCH_ARGS] });
    toClose.push(() => browser.close());

    const credentials = { username: DEMO_CREDENTIALS.username, password: DEMO_CREDENTIALS.password };
    const drivers: Partial<Record<Variant, () => Promise<TaskRecord>>> = {
      b: () => taskPlaywrightMcp(pw.client, portalUrl, credentials),
      c: () => taskPlaywright(browser, portalUrl, credentials),
    };
    if (ours) drivers.a = () => taskOurMcp(ours, ASSET_ID, DEMO_CREDENTIALS.password);

    const loadBefore = load();
    const measured = await runTasks(drivers, config.tasks, resetTaps);
    const sequentialTaps = copyTaps();
    const loadAfter = load();
    for (const v of VARIANTS) for (const e of measured.errors[v]) problems.push(`${VARIANT_LABEL[v]} task failed: ${e.slice(0, 500)}`);
    if (measured.errors.b.length > 0) problems.push(`@playwright/mcp stderr: ${pw.stderr().slice(-1000)}`);
    printTasks(measured, sequentialTaps, loadBefore, loadAfter);
    if (config.transcript) printTranscripts(measured);

    const echo = await measureEcho(node, first.token, ours, config.echo);
    printEcho(echo);

    let concurrent: Concurrent | null = null;
    if (ours) {
      const clients: Client[] = [];
      for (const agent of agents) {
        const client = await connectOurMcp(node.url, agent.token);
        clients.push(client);
        toClose.push(() => client.close());
      }
      const loadAgents = load();
      resetTaps();
      concurrent = await runAtOnce(
        clients.map((client) => () => taskOurMcp(client, ASSET_ID, DEMO_CREDENTIALS.password)),
        config.agentRounds,
      );
      concurrent.taps = copyTaps();
      for (const e of concurrent.errors) problems.push(`(a) concurrent task failed: ${e.slice(0, 500)}`);
      printConcurrent(concurrent, measured.tasks.a, sequentialTaps.click, loadAgents);
    }
    // The same number of tasks at once through (c): what this machine allows when nothing but
    // Chromium and the portal do the work (no product, no recording), to read the goal's ratio against.
    const loadFloor = load();
    const floor = await runAtOnce(
      Array.from({ length: config.agents }, () => () => taskPlaywright(browser, portalUrl, credentials)),
      config.agentRounds,
    );
    for (const e of floor.errors) problems.push(`(c) concurrent task failed: ${e.slice(0, 500)}`);
    printFloor(floor, measured.tasks.c, loadFloor);

    printGoals(measured, echo, concurrent, floor);
  } finally {
    for (const close of toClose.reverse()) await close().catch(() => undefined);
    await stopProductNode(node);
    await portal.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
  for (const p of problems) console.log(`PROBLEM: ${p}`);
  console.log(`load average after: ${load()}`);
  return problems.length === 0;
}

// ---------------------------------------------------------------------------------------------
// Echo: the protocol's overhead against plain HTTP on the same server, with the same token.

interface Echo {
  times: Map<string, number[]>;
  pairs: Array<{ mcp: string; http: string }>;
}

const ECHO = {
  ping: 'MCP ping (SDK Client)',
  rawPing: 'MCP ping (plain fetch POST /mcp)',
  inProcess: 'of which: protocol server + transport, in process (no HTTP, no auth)',
  toolsList: 'MCP tools/list (SDK Client)',
  listSessions: 'MCP tools/call list_sessions (SDK Client)',
  whoami: 'HTTP GET /api/auth/session (bearer)',
  sessions: 'HTTP GET /api/sessions (bearer)',
  healthz: 'HTTP GET /healthz (no auth)',
} as const;

async function measureEcho(node: ProductNode, token: string, ours: Client | null, calls: number): Promise<Echo> {
  const baseUrl = node.url;
  const probes: Probe[] = [httpProbe(ECHO.healthz, baseUrl, '/healthz', null), httpProbe(ECHO.whoami, baseUrl, '/api/auth/session', token), httpProbe(ECHO.sessions, baseUrl, '/api/sessions', token)];
  if (ours) {
    const client = ours;
    probes.push(
      { label: ECHO.ping, call: async () => void (await client.ping()) },
      { label: ECHO.toolsList, call: async () => void (await client.listTools()) },
      {
        label: ECHO.listSessions,
        call: async () => {
          const r = await client.callTool({ name: 'list_sessions', arguments: {} });
          if (r.isError === true) throw new Error(`list_sessions failed: ${JSON.stringify(r.content).slice(0, 300)}`);
        },
      },
    );
  }
  // Without an MCP session of its own: only when the server takes stateless requests.
  const raw = rawPingProbe(ECHO.rawPing, baseUrl, token);
  if (ours && (await raw.call().then(() => true, () => false))) probes.push(raw);
  const principal = await node.services.tokens.authenticate(token);
  if (ours && principal) probes.push(inProcessPingProbe(ECHO.inProcess, wireMcp(node.services, node.server.browser.sessions), principal));
  const times = await runProbes(probes, calls, 20);
  return {
    times,
    pairs: [
      { mcp: ECHO.ping, http: ECHO.whoami },
      { mcp: ECHO.rawPing, http: ECHO.whoami },
      { mcp: ECHO.toolsList, http: ECHO.whoami },
      { mcp: ECHO.listSessions, http: ECHO.sessions },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Printing.

const STEP_ROWS: ReadonlyArray<[string, (c: CallRecord) => boolean]> = [
  ['snapshot (read the page)', (c) => c.step === 'snapshot'],
  ['click (link, Send: each loads a page)', (c) => c.step === 'click'],
  ['type (IBAN, amount)', (c) => c.step === 'type'],
  ['close', (c) => c.step === 'close'],
];

/** "Open, logged in" of one task: open_session for (a); for (b) and (c) the calls that log in. */
const openMs = (t: TaskRecord) => t.calls.filter((c) => c.step === 'open' || c.step === 'login').reduce((s, c) => s + c.ms, 0);
const callsOf = (tasks: readonly TaskRecord[], pick: (c: CallRecord) => boolean) => tasks.flatMap((t) => t.calls.filter(pick).map((c) => c.ms));
const sum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);

function printTasks(m: Measured, taps: AgentTaps, loadBefore: string, loadAfter: string): void {
  const cell = (s: Stats) => [fmtInt(s.n), fmtMs(s.p50), fmtMs(s.p95)];
  const rows: string[][] = [];
  rows.push(['open, logged in (per task)', ...VARIANTS.flatMap((v) => cell(stats(m.tasks[v].map(openMs))))]);
  rows.push(['  of (b): browser_navigate to /login', '', '', '', ...cell(stats(callsOf(m.tasks.b, (c) => c.tool === 'browser_navigate'))), '', '', '']);
  rows.push(['  of (b): click Sign in', '', '', '', ...cell(stats(callsOf(m.tasks.b, (c) => c.step === 'login' && c.tool === 'browser_click'))), '', '', '']);
  for (const [label, pick] of STEP_ROWS) {
    rows.push([label, ...VARIANTS.flatMap((v) => cell(stats(callsOf(m.tasks[v], pick))))]);
    const action = TAPPED_ACTIONS.find((a) => label.startsWith(a));
    if (action && taps[action].length > 0) rows.push([`  of (a): inside the browser module`, ...cell(stats(taps[action])), '', '', '', '', '', '']);
  }
  rows.push(['whole task', ...VARIANTS.flatMap((v) => cell(stats(m.tasks[v].map((t) => t.ms))))]);
  console.log(`wall time per action, ms, one task at a time (load average ${loadBefore} before, ${loadAfter} after)`);
  console.log(table(['action', ...VARIANTS.flatMap((v) => [`${v} n`, `${v} p50`, `${v} p95`])], rows));

  console.log('\nper task (mean of the measured tasks): tool calls, bytes of tool results, password occurrences in the transcript');
  console.log(
    table(
      ['variant', 'tasks', 'calls', 'result bytes', 'password in arguments', 'password in results'],
      VARIANTS.filter((v) => v !== 'c').map((v) => {
        const ts = m.tasks[v];
        const per = (f: (t: TaskRecord) => number) => (ts.length ? sum(ts.map(f)) / ts.length : Number.NaN);
        return [
          VARIANT_LABEL[v],
          fmtInt(ts.length),
          fmtInt(per((t) => t.calls.length)),
          fmtInt(per((t) => sum(t.calls.map((c) => c.resultBytes)))),
          fmtInt(per((t) => sum(t.calls.map((c) => c.passwordInArgs)))),
          fmtInt(per((t) => sum(t.calls.map((c) => c.passwordInResult)))),
        ];
      }),
    ),
  );
  const bytesByTool = new Map<string, number[]>();
  for (const v of ['a', 'b'] as const) {
    for (const c of m.tasks[v].flatMap((t) => t.calls)) {
      const key = `${v} ${c.tool}`;
      bytesByTool.set(key, [...(bytesByTool.get(key) ?? []), c.resultBytes]);
    }
  }
  console.log('\nresult bytes per call, by tool (median)');
  console.log(table(['variant tool', 'calls', 'bytes p50'], [...bytesByTool].map(([k, xs]) => [k, fmtInt(xs.length), fmtInt(stats(xs).p50)])));
  const balances = new Set(VARIANTS.flatMap((v) => m.tasks[v].map((t) => t.balance)));
  console.log(`balances read: ${[...balances].join(', ')}`);
}

function printTranscripts(m: Measured): void {
  for (const v of ['a', 'b'] as const) {
    const task = m.tasks[v].at(-1);
    if (!task) continue;
    console.log(`\ntranscript of one task, ${VARIANT_LABEL[v]}`);
    for (const c of task.calls) {
      console.log(`>>> ${c.tool} ${c.transcript?.args ?? ''}  (${fmtMs(c.ms)} ms, ${fmtInt(c.resultBytes)} bytes)`);
      const content = (JSON.parse(c.transcript?.result ?? '{}') as { content?: Array<{ type: string; text?: string }> }).content ?? [];
      for (const part of content) console.log(part.type === 'text' ? part.text : `[${part.type}]`);
    }
  }
}

function printEcho(e: Echo): void {
  console.log('\necho-like calls, one at a time, interleaved, same server and bearer token, ms');
  console.log(
    table(
      ['call', 'n', 'p50', 'p95', 'max'],
      [...e.times].map(([label, xs]) => {
        const s = stats(xs);
        return [label, fmtInt(s.n), fmtMs(s.p50), fmtMs(s.p95), fmtMs(s.max)];
      }),
    ),
  );
  for (const { mcp, http } of e.pairs) {
    const a = e.times.get(mcp);
    const b = e.times.get(http);
    if (!a || !b) continue;
    console.log(`  overhead ${mcp} - ${http}: p50 ${(stats(a).p50 - stats(b).p50).toFixed(2)} ms`);
  }
}

function printConcurrent(c: Concurrent, single: readonly TaskRecord[], sequentialClicks: readonly number[], loadAtStart: string): void {
  const all = (ts: readonly TaskRecord[]) => callsOf(ts, () => true);
  const rows: Array<[string, Stats, Stats]> = [
    ['every tool call', stats(all(single)), stats(all(c.tasks))],
    ['open_session', stats(callsOf(single, (x) => x.step === 'open')), stats(callsOf(c.tasks, (x) => x.step === 'open'))],
    ['snapshot, click, type (not open or close)', stats(callsOf(single, (x) => ['snapshot', 'click', 'type'].includes(x.step))), stats(callsOf(c.tasks, (x) => ['snapshot', 'click', 'type'].includes(x.step)))],
    ['click', stats(callsOf(single, (x) => x.step === 'click')), stats(callsOf(c.tasks, (x) => x.step === 'click'))],
    ['  of click: inside the browser module', stats(single.length ? sequentialClicks : []), stats(c.taps?.click ?? [])],
    ['whole task', stats(single.map((t) => t.ms)), stats(c.tasks.map((t) => t.ms))],
  ];
  printOneVsMany(
    `${c.agents} agents at once through (a), each its own token and session, ${c.rounds} rounds, ${c.seconds.toFixed(1)} s (load average ${loadAtStart} at start) vs one agent (the sequential tasks above), ms`,
    ['tool calls', '1 agent n', `${c.agents} agents n`],
    rows,
  );
}

/** A table of p50/p95 alone against at once, with the p95 ratio; `labels` names the row column and the two counts. */
function printOneVsMany(title: string, labels: [string, string, string], rows: ReadonlyArray<[string, Stats, Stats]>): void {
  console.log(`\n${title}`);
  console.log(
    table(
      [labels[0], labels[1], 'p50', 'p95', labels[2], 'p50', 'p95', 'p95 ratio'],
      rows.map(([label, one, many]) => [label, fmtInt(one.n), fmtMs(one.p50), fmtMs(one.p95), fmtInt(many.n), fmtMs(many.p50), fmtMs(many.p95), fmtRatio(many.p95 / one.p95)]),
    ),
  );
}

/**
 * Actions as an agent sees them: (c)'s login calls (context, page, goto, fills, click) count as one
 * "open, logged in", like (a)'s one `open_session`; every other call as itself.
 */
function actionsOf(tasks: readonly TaskRecord[]): number[] {
  return tasks.flatMap((t) => {
    const login = t.calls.filter((c) => c.step === 'login');
    const rest = t.calls.filter((c) => c.step !== 'login').map((c) => c.ms);
    return login.length ? [sum(login.map((c) => c.ms)), ...rest] : rest;
  });
}

function printFloor(c: Concurrent, single: readonly TaskRecord[], loadAtStart: string): void {
  const openOf = (ts: readonly TaskRecord[]) => ts.map((t) => sum(t.calls.filter((x) => x.step === 'login' || x.step === 'open').map((x) => x.ms)));
  const rows: Array<[string, Stats, Stats]> = [
    ['every action (open, logged in, as one)', stats(actionsOf(single)), stats(actionsOf(c.tasks))],
    ['open, logged in', stats(openOf(single)), stats(openOf(c.tasks))],
    ['snapshot, click, type', stats(callsOf(single, (x) => ['snapshot', 'click', 'type'].includes(x.step))), stats(callsOf(c.tasks, (x) => ['snapshot', 'click', 'type'].includes(x.step)))],
    ['click', stats(callsOf(single, (x) => x.step === 'click')), stats(callsOf(c.tasks, (x) => x.step === 'click'))],
    ['whole task', stats(single.map((t) => t.ms)), stats(c.tasks.map((t) => t.ms))],
  ];
  printOneVsMany(
    `the floor: ${c.agents} tasks at once through (c), ${c.rounds} rounds, ${c.seconds.toFixed(1)} s (load average ${loadAtStart} at start) vs one (the sequential tasks above), ms`,
    ['actions', '1 task n', `${c.agents} at once n`],
    rows,
  );
}

function printGoals(m: Measured, e: Echo, c: Concurrent | null, floor: Concurrent): void {
  const click = (v: Variant) => stats(callsOf(m.tasks[v], (x) => x.step === 'click')).p50;
  const bytes = (v: Variant) => {
    const ts = m.tasks[v];
    return ts.length ? sum(ts.map((t) => sum(t.calls.map((x) => x.resultBytes)))) / ts.length : Number.NaN;
  };
  const passwords = (v: Variant) => sum(m.tasks[v].flatMap((t) => t.calls.map((x) => x.passwordInArgs + x.passwordInResult)));
  const measuredA = m.tasks.a.length > 0;
  const na = 'not measurable: (a) unavailable';
  const goals: Array<[string, string, boolean | null]> = [];
  const goal = (label: string, value: string, met: boolean) => goals.push([label, measuredA ? value : na, measuredA ? met : null]);
  goal('(a) click p50 <= 250 ms', `${fmtMs(click('a'))} ms`, click('a') <= 250);
  goal('(a) click p50 >= 3x faster than (b)', `${fmtRatio(click('b') / click('a'))} faster (b ${fmtMs(click('b'))} ms)`, click('b') / click('a') >= 3);
  goal('(a) click p50 within 1.5x of (c)', `${fmtRatio(click('a') / click('c'))} (c ${fmtMs(click('c'))} ms)`, click('a') / click('c') <= 1.5);
  goal('(a) result bytes <= 0.25x (b)', `${fmtRatio(bytes('a') / bytes('b'))} (${fmtInt(bytes('a'))} vs ${fmtInt(bytes('b'))} per task)`, bytes('a') / bytes('b') <= 0.25);
  goal('password in (a) transcript: 0', `${passwords('a')} in ${m.tasks.a.length} tasks`, passwords('a') === 0);
  goals.push(['password in (b) transcript: > 0 (the point)', `${passwords('b')} in ${m.tasks.b.length} tasks`, passwords('b') > 0]);
  const ping = e.times.get(ECHO.ping);
  const whoami = e.times.get(ECHO.whoami);
  const overhead = ping && whoami ? stats(ping).p50 - stats(whoami).p50 : Number.NaN;
  goal('echo overhead p50 <= 1 ms (MCP ping vs GET /api/auth/session)', `${overhead.toFixed(2)} ms`, overhead <= 1);
  if (c) {
    const one = stats(callsOf(m.tasks.a, () => true)).p95;
    const many = stats(callsOf(c.tasks, () => true)).p95;
    goal(`${c.agents} agents: p95 of every tool call <= 2x one agent`, `${fmtRatio(many / one)} (${fmtMs(many)} vs ${fmtMs(one)} ms)`, many / one <= 2);
  } else goals.push([`agents at once: p95 <= 2x one agent`, na, null]);
  const floorOne = stats(actionsOf(m.tasks.c)).p95;
  const floorMany = stats(actionsOf(floor.tasks)).p95;
  goals.push([`  for reading it: the floor (c), ${floor.agents} at once, p95 of every action`, `${fmtRatio(floorMany / floorOne)} (${fmtMs(floorMany)} vs ${fmtMs(floorOne)} ms)`, null]);
  console.log('\ngoals (MCP)');
  console.log(table(['goal', 'measured', 'met'], goals.map(([g, v, met]) => [g, v, met === null ? '-' : met ? 'yes' : 'NO'])));
}
