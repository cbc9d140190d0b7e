import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runServer } from '../../main.js';
import { ADMIN_SOCKET_NAME, listenAdminSocket } from '../admin-socket.js';
import { loadCliConfig, type CommandContext } from '../context.js';

export async function serveCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { port: { type: 'string' }, host: { type: 'string' } }, strict: true, allowPositionals: false });
  const loaded = loadCliConfig(ctx, { port: values.port, host: values.host });
  return runServer({
    ...loaded,
    version: ctx.version,
    stop: ctx.io.stopSignal,
    // The embedded database belongs to this process: other `webasset` commands come in through the admin socket.
    onStarted: async (services) => {
      if (services.database.kind !== 'pglite') return undefined;
      const socket = await listenAdminSocket(join(services.config.dataDir, ADMIN_SOCKET_NAME), (argv, io, actor) => ctx.dispatch(argv, io, services, actor), ctx.io.cwd);
      return () => socket.close();
    },
  });
}
