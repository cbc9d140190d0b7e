import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { AppError } from '../../core/index.js';
import { createDemoPortal, DEMO_CREDENTIALS, VARIANTS } from '../../demo-portal/index.js';
import { withServices, type CommandContext } from '../context.js';
import { writeLine } from '../io.js';
import { cliPrincipal, seedDemoPortal } from './demo-portal-seed.js';

const DEFAULT_PORT = 8090;
const credentialsFile = z.strictObject({ username: z.string().min(1).max(256), password: z.string().min(1).max(4096), totpSeed: z.string().regex(/^[A-Za-z2-7 =]+$/).optional() });

/**
 * `webasset demo-portal [--port N] [--host ADDR] [--credentials FILE]`: runs the demo bank until stopped.
 * `webasset demo-portal seed [--url URL] [--grant USER] [--credentials FILE]`: adds it to the product
 * (vault entry, asset, permission); with the embedded database this runs inside the server.
 */
export async function demoPortalCommand(ctx: CommandContext, args: string[]): Promise<number> {
  if (args[0] === 'seed') return seedCommand(ctx, args.slice(1));
  // Through the admin socket only `seed` runs: a portal started there would live inside the server.
  if (ctx.services) throw new AppError('invalid_request', { publicMessage: 'only `demo-portal seed` runs through the admin socket' });
  const { values } = parseArgs({ args, options: { port: { type: 'string' }, host: { type: 'string' }, credentials: { type: 'string' } }, strict: true, allowPositionals: false });
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new AppError('invalid_request', { publicMessage: '--port must be a number from 0 to 65535' });
  const credentials = values.credentials === undefined ? DEMO_CREDENTIALS : readCredentials(resolve(ctx.io.cwd, values.credentials));
  const portal = createDemoPortal(credentials);
  const url = await portal.start(port, values.host ?? '127.0.0.1');
  writeLine(ctx.io.stdout, `Demo Bank listening on ${url}/`);
  for (const [path, text] of Object.entries(VARIANTS)) writeLine(ctx.io.stdout, `  ${url}${path}  ${text}`);
  // The source, never the values: the built-in account is documented, a file's contents stay in the file.
  writeLine(ctx.io.stdout, `Credentials: ${values.credentials === undefined ? 'the built-in demo account (src/demo-portal/credentials.ts)' : `from ${values.credentials}`}`);
  try {
    await (ctx.io.stopSignal ?? new Promise<never>(() => {}));
  } finally {
    await portal.stop();
  }
  return 0;
}

async function seedCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { url: { type: 'string' }, grant: { type: 'string' }, credentials: { type: 'string' } }, strict: true, allowPositionals: false });
  const url = values.url ?? `http://127.0.0.1:${DEFAULT_PORT}`;
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw new AppError('invalid_request', { publicMessage: '--url must be the http(s) URL the demo portal listens on' });
  const credentials = values.credentials === undefined ? DEMO_CREDENTIALS : readCredentials(resolve(ctx.io.cwd, values.credentials));
  const lines = await withServices(ctx, (services) => seedDemoPortal(services, { url, credentials, grantTo: values.grant }, ctx.actor, cliPrincipal(ctx.actor)));
  for (const line of lines) writeLine(ctx.io.stdout, line);
  return 0;
}

function readCredentials(path: string): { username: string; password: string; totpSeed?: string | undefined } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new AppError('invalid_request', { publicMessage: `cannot read the credentials file ${path}` });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new AppError('invalid_request', { publicMessage: `the credentials file ${path} is not JSON ({"username", "password", "totpSeed"?})` });
  }
  const result = credentialsFile.safeParse(parsed);
  // Issue paths only: zod's messages could quote a value.
  if (!result.success) throw new AppError('invalid_request', { publicMessage: `the credentials file ${path} is invalid at: ${result.error.issues.map((i) => i.path.join('.') || '(root)').join(', ')}` });
  return result.data;
}
