import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runServer } from '../../main.js';
import { ADMIN_SOCKET_NAME, listenAdminSocket } from '../admin-socket.js';
import { loadCliConfig, type CommandContext } from '../context.js';
import { startDemoPortalBeside } from './demo-portal-seed.js';

export async function serveCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { port: { type: 'string' }, host: { type: 'string' } }, strict: true, allowPositionals: false });
  const loaded = loadCliConfig(ctx, { port: values.port, host: values.host });
  return runServer({
    ...loaded,
    version: ctx.version,
    stop: ctx.io.stopSignal,
    // The embedded database belongs to this process: other `webasset` commands come in through the admin socket.
    onStarted: async (services) => {
      // The quickstart's demo portal (WEBASSET_DEMO_PORTAL_PORT, development only).
      const port = services.config.demoPortalPort;
      const stopDemo = port === undefined ? undefined : await startDemoPortalBeside(services, port, ctx.actor);
      if (services.database.kind !== 'pglite') return stopDemo;
      try {
        const socket = await listenAdminSocket(join(services.config.dataDir, ADMIN_SOCKET_NAME), (argv, io, actor) => ctx.dispatch(argv, io, services, actor), ctx.io.cwd);
        return async () => {
          await socket.close();
          await stopDemo?.();
        };
      } catch (error) {
        await stopDemo?.();
        throw error;
      }
    },
  });
}
