import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { DEFAULT_LAUNCH_ARGS } from '../src/browser/index.js';
import type { Principal } from '../src/identity/index.js';
import { createMcpProtocol, type McpTools } from '../src/mcp/index.js';

/** The clients of `bench/mcp`: ours over Streamable HTTP with a bearer token, `@playwright/mcp` over stdio. */

const CLIENT_INFO = { name: 'webasset-bench-mcp', version: '1.0.0' } as const;

/** An SDK client on our `/mcp`, the agent token in `Authorization` (never in the URL). */
export async function connectOurMcp(baseUrl: string, token: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', baseUrl), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client(CLIENT_INFO);
  await client.connect(transport);
  return client;
}

/**
 * `@playwright/mcp` (the devDependency's `playwright-mcp` bin) as a child process over stdio, on
 * the system Chromium with the product's launch flags, headless, an in-memory profile, 1280x720,
 * its own defaults otherwise (action timeout 5 s, settle 500 ms, snapshots of action results
 * written to files in `workDir`). It never downloads a browser: the executable is given.
 */
export async function startPlaywrightMcp(chromiumPath: string, workDir: string): Promise<{ client: Client; stderr: () => string }> {
  mkdirSync(workDir, { recursive: true });
  const configPath = join(workDir, 'playwright-mcp.json');
  writeFileSync(configPath, JSON.stringify({ browser: { launchOptions: { args: [...DEFAULT_LAUNCH_ARGS] } } }));
  // The package exports no bin path: find the `playwright-mcp` bin through its package.json.
  const manifestPath = createRequire(import.meta.url).resolve('@playwright/mcp/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { bin: Record<string, string> };
  const cli = join(dirname(manifestPath), manifest.bin['playwright-mcp']!);
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [
      cli,
      '--config', configPath,
      '--headless',
      '--no-sandbox',
      '--isolated',
      '--executable-path', chromiumPath,
      '--viewport-size', '1280x720',
      '--output-dir', join(workDir, 'output'),
    ],
    cwd: workDir,
    env: getDefaultEnvironment(),
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 20_000) stderr += chunk.toString('utf8');
  });
  const client = new Client(CLIENT_INFO);
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

/** One echo-like probe: a name and one call. */
export interface Probe {
  label: string;
  call: () => Promise<void>;
}

/** Plain HTTP on the same server with the same bearer token: `path` must answer 200. */
export function httpProbe(label: string, baseUrl: string, path: string, token: string | null): Probe {
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  return {
    label,
    async call() {
      const res = await fetch(new URL(path, baseUrl), { headers });
      const body = await res.text();
      if (res.status !== 200) throw new Error(`${label}: ${res.status} ${body.slice(0, 200)}`);
    },
  };
}

/**
 * A JSON-RPC `ping` POSTed to `/mcp` with plain fetch (no SDK on the client side), as a stateless
 * server takes it: answers 200 with the result as JSON or as one SSE event.
 */
export function rawPingProbe(label: string, baseUrl: string, token: string): Probe {
  let id = 0;
  return {
    label,
    async call() {
      const res = await fetch(new URL('/mcp', baseUrl), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-06-18',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method: 'ping' }),
      });
      const body = await res.text();
      if (res.status !== 200 || !body.includes('"result"')) throw new Error(`${label}: ${res.status} ${body.slice(0, 200)}`);
    },
  };
}

/**
 * The server's part of an MCP ping without HTTP, auth or a client: what POST /mcp does per request
 * once the caller is known (a protocol server and a stateless transport built, the JSON-RPC
 * message handled, both closed), called in this process.
 */
export function inProcessPingProbe(label: string, tools: McpTools, principal: Principal): Probe {
  let id = 0;
  // As POST /mcp does: what does not depend on the request (the validator) is made once.
  const protocol = createMcpProtocol(tools, 'bench');
  return {
    label,
    async call() {
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      const server = protocol.serverFor(principal, {});
      try {
        await server.connect(transport);
        const message = { jsonrpc: '2.0', id: ++id, method: 'ping' };
        const request = new Request('http://mcp.invalid/mcp', {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
        });
        const response = await transport.handleRequest(request, { parsedBody: message });
        const body = await response.text();
        if (response.status !== 200 || !body.includes('"result"')) throw new Error(`${label}: ${response.status} ${body.slice(0, 200)}`);
      } finally {
        await server.close();
      }
    },
  };
}

/**
 * Runs every probe `rounds` times, interleaved (probe 1, 2, 3, 1, 2, 3, ...), after `warmup`
 * unmeasured rounds, one call at a time: a change in the machine's load falls on all alike.
 */
export async function runProbes(probes: readonly Probe[], rounds: number, warmup: number): Promise<Map<string, number[]>> {
  const times = new Map<string, number[]>(probes.map((p) => [p.label, []]));
  for (let r = 0; r < warmup + rounds; r++) {
    for (const probe of probes) {
      const t0 = performance.now();
      await probe.call();
      if (r >= warmup) times.get(probe.label)!.push(performance.now() - t0);
    }
  }
  return times;
}
