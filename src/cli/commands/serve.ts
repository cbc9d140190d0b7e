import { parseArgs } from 'node:util';
import { runServer } from '../../main.js';
import type { CommandContext } from '../context.js';
import { loadCliConfig } from '../context.js';

export async function serveCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { port: { type: 'string' }, host: { type: 'string' } }, strict: true, allowPositionals: false });
  const loaded = loadCliConfig(ctx, { port: values.port, host: values.host });
  return runServer({ ...loaded, version: ctx.version, stop: ctx.io.stopSignal });
}
