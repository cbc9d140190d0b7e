import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { isJSONRPCRequest, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { publicBaseUrl } from '../../app.js';
import { AppError, type ErrorCode } from '../../core/index.js';
import { loadCliConfig, type CommandContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { writeLine } from '../io.js';

const TOKEN_SHAPE = /^wat_[A-Za-z0-9_-]{43}$/;

/**
 * `webasset mcp --token-file F [--url URL]`: the MCP server for local clients
 * that only speak stdio. It holds no database, vault key or browser: it
 * relays each JSON-RPC message to the server's /mcp with the token as a
 * bearer, so every call passes exactly the checks of HTTP (token, scope,
 * Origin, policy, rate limit, audit). See docs/decisions/0027-mcp-server.md.
 */
export async function mcpCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { 'token-file': { type: 'string' }, url: { type: 'string' } }, strict: true, allowPositionals: false });
  const file = values['token-file'];
  if (!file) throw usage('mcp needs --token-file FILE (a file holding the agent token; never the token itself in argv)');
  const token = readToken(ctx, resolve(ctx.io.cwd, file));
  const endpoint = new URL('/mcp', serverUrl(ctx, values.url));
  await preflight(endpoint, token);

  const stdio = new StdioServerTransport(ctx.io.stdin, ctx.io.stdout);
  // No redirects: the token goes to the server named, never on to wherever an answer points.
  const http = new StreamableHTTPClientTransport(endpoint, { requestInit: { headers: { authorization: `Bearer ${token}` }, redirect: 'error' } });
  http.onmessage = (message) => void stdio.send(message).catch(() => undefined);
  http.onerror = (error) => writeLine(ctx.io.stderr, `mcp: ${describe(error)}`);
  stdio.onmessage = (message: JSONRPCMessage) => {
    http.send(message).catch(async (error: unknown) => {
      // A request must get an answer: the server's refusal becomes a JSON-RPC error, with no token and no stack.
      if (isJSONRPCRequest(message)) await stdio.send({ jsonrpc: '2.0', id: message.id, error: { code: -32000, message: describe(error) } }).catch(() => undefined);
    });
  };
  await http.start();
  await stdio.start();
  writeLine(ctx.io.stderr, `webasset mcp: relaying stdio to ${endpoint.href}`);
  const ended = once(ctx.io.stdin, 'end').then(() => 'stdin closed');
  await Promise.race([ended, ...(ctx.io.stopSignal ? [ctx.io.stopSignal] : [])]);
  await http.close();
  await stdio.close();
  return EXIT.ok;
}

/** The token file: one token, nothing else; a file others can read is named (the token is not). */
function readToken(ctx: CommandContext, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw usage(`cannot read the token file ${path}`);
  }
  const token = text.trim();
  if (!TOKEN_SHAPE.test(token)) throw usage(`the token file ${path} does not hold one agent token (wat_...)`);
  if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) {
    writeLine(ctx.io.stderr, `warning: the token file ${path} can be read by other users; chmod 600 it`);
  }
  return token;
}

/**
 * --url, else the configuration's public URL, else the address the server listens on. Plain http
 * only to this machine: the token is sent with every message, and must not cross a network in clear.
 */
function serverUrl(ctx: CommandContext, flag: string | undefined): string {
  const text = flag ?? publicBaseUrl(loadCliConfig(ctx).config);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usage('--url must be an http:// or https:// URL of the server');
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname))) return url.href;
  if (url.protocol === 'http:') throw usage('--url must be https:// for a server on another machine (plain http only to localhost, 127.0.0.0/8 or [::1]): the token would travel in clear');
  throw usage('--url must be an http:// or https:// URL of the server');
}

/** Addresses a connection from this machine stays on: loopback, and the unspecified address a server listens on (the default). */
function isLoopback(hostname: string): boolean {
  return ['localhost', '[::1]', '0.0.0.0', '[::]'].includes(hostname) || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

/** One ping before relaying: a revoked, expired or unscoped token stops the command with the server's reason. */
async function preflight(endpoint: URL, token: string): Promise<void> {
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      redirect: 'error',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'ping' }),
    });
  } catch {
    throw new AppError('server_unreachable', { publicMessage: `cannot reach the server at ${endpoint.origin}; is it running (--url)?` });
  }
  if (response.ok) {
    await response.body?.cancel();
    return;
  }
  const body = (await response.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  const code = body?.error?.code;
  const known: ErrorCode = code === 'unauthenticated' || code === 'insufficient_scope' || code === 'forbidden' || code === 'rate_limited' ? code : 'internal';
  throw new AppError(known, { publicMessage: body?.error?.message ?? `the server answered ${response.status}` });
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // The SDK's messages carry the status and the server's JSON body; never the request's headers.
  return message.slice(0, 500);
}

function usage(message: string): AppError {
  return new AppError('invalid_request', { publicMessage: message });
}
