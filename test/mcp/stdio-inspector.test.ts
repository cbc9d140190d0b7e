import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { ADMIN, agentToken, auditRows, textOf } from './support.js';

const ENTRY = join(import.meta.dirname, '../support/cli-entry.ts');
// Resolved here: the child runs in a temporary folder without node_modules.
const TSX = import.meta.resolve('tsx');
const INSPECTOR = join(import.meta.dirname, '../../node_modules/.bin/mcp-inspector-cli');
const run = promisify(execFile);
// inspector-cli 1.0.3 looks for its package.json at ../package.json from the working folder (and imports it from its own):
// it runs from a folder whose parent holds a package.json, as it does from any project's subfolder.
const INSPECTOR_CWD = join(import.meta.dirname, '..');

describe('webasset mcp (stdio relay) and the MCP Inspector CLI', () => {
  let ts: TestServer;
  let dir: string;
  let agent: Awaited<ReturnType<typeof agentToken>>;
  let tokenFile: string;

  beforeAll(async () => {
    ts = await startTestServer();
    dir = mkdtempSync(join(tmpdir(), 'webasset-mcp-stdio-'));
    agent = await agentToken(ts, 'stdio-agent');
    await ts.services.assets.create({ id: 'stdio-portal', name: 'Stdio portal', url: 'https://stdio.example.com/' }, ADMIN);
    await ts.services.grants.create({ subjectKind: 'user', subjectId: agent.userId, assetId: 'stdio-portal', actions: ['connect'] }, ADMIN);
    tokenFile = join(dir, 'agent.token');
    writeFileSync(tokenFile, `${agent.token}\n`, { mode: 0o600 });
  });
  afterAll(async () => {
    await ts?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the same tools over stdio, through the same checks and audit, as the SDK StdioClientTransport sees them', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ['--import', TSX, ENTRY, 'mcp', '--token-file', tokenFile, '--url', ts.url],
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: dir, WEBASSET_DATA_DIR: join(dir, 'data') },
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const client = new Client({ name: 'stdio-test', version: '1.0.0' });
    await client.connect(transport);
    expect((await client.listTools()).tools.map((t) => t.name)).toHaveLength(15);
    const listed = await client.callTool({ name: 'list_assets', arguments: {} });
    expect(textOf(listed)).toContain('stdio-portal  Stdio portal');
    const refused = await client.callTool({ name: 'open_session', arguments: { asset: 'not-granted' } });
    expect(textOf(refused)).toBe('error [forbidden]: You are not allowed to do this.');
    await client.close();
    expect(stderr).toContain('relaying stdio to');
    expect(stderr).not.toContain(agent.token);
    const calls = (await auditRows(ts, 'mcp.tool_called')).filter((r) => r.actor_id === agent.userId);
    expect(calls.map((r) => [r.details.tool, r.outcome])).toEqual([
      ['list_assets', 'success'],
      ['open_session', 'denied'],
    ]);
  }, 120_000);

  it('stops with the server\'s reason for a revoked token, and refuses a malformed token file or an unreachable server', async () => {
    const revoked = await agentToken(ts, 'stdio-revoked');
    await ts.services.tokens.revoke(revoked.tokenId, ADMIN);
    const file = join(dir, 'revoked.token');
    writeFileSync(file, revoked.token, { mode: 0o600 });
    const env = { WEBASSET_DATA_DIR: join(dir, 'data') };
    const refused = await cli(['mcp', '--token-file', file, '--url', ts.url], env, dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('error [unauthenticated]: The token is invalid, revoked or expired.\n');
    expect(refused.stdout).toBe('');

    const bad = join(dir, 'bad.token');
    writeFileSync(bad, 'not a token');
    chmodSync(bad, 0o644);
    const malformed = await cli(['mcp', '--token-file', bad, '--url', ts.url], env, dir);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/does not hold one agent token/);
    expect(malformed.stderr).not.toContain('not a token');

    expect((await cli(['mcp', '--url', ts.url], env, dir)).code).toBe(2);
    // The token never crosses a network in clear: plain http only to this machine.
    const cleartext = await cli(['mcp', '--token-file', tokenFile, '--url', 'http://webasset.example.com'], env, dir);
    expect(cleartext.code).toBe(2);
    expect(cleartext.stderr).toMatch(/must be https:\/\/ for a server on another machine/);
    const unreachable = await cli(['mcp', '--token-file', tokenFile, '--url', 'http://127.0.0.1:9'], env, dir);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toMatch(/^error \[server_unreachable\]/);
  }, 60_000);

  it('answers the MCP Inspector in CLI mode (tools/list and tools/call over Streamable HTTP)', async () => {
    // The launcher of inspector-cli 1.0.3 takes the server URL as its target (it does not turn --server-url into one).
    const base = ['--cli', `${ts.url}/mcp`, '--transport', 'http', '--header', `Authorization: Bearer ${agent.token}`];
    const listed = await run(INSPECTOR, [...base, '--method', 'tools/list'], { cwd: INSPECTOR_CWD, timeout: 90_000 });
    const tools = (JSON.parse(listed.stdout) as { tools: Array<{ name: string }> }).tools.map((t) => t.name);
    expect(tools).toEqual(expect.arrayContaining(['list_assets', 'open_session', 'snapshot', 'fill_credential']));
    expect(tools).toHaveLength(15);
    const called = await run(INSPECTOR, [...base, '--method', 'tools/call', '--tool-name', 'list_assets'], { cwd: INSPECTOR_CWD, timeout: 90_000 });
    expect(called.stdout).toContain('stdio-portal');
    const anonymous = await run(INSPECTOR, ['--cli', `${ts.url}/mcp`, '--transport', 'http', '--method', 'tools/list'], { cwd: INSPECTOR_CWD, timeout: 90_000 }).then(
      () => 'connected',
      (error: { stderr?: string; stdout?: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}`,
    );
    expect(anonymous).not.toBe('connected');
    expect(anonymous).toContain('"code":"unauthenticated"');
  }, 200_000);
});
