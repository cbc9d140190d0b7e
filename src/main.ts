import pino from 'pino';
import { openServices, startServer, type Services } from './app.js';
import type { Config } from './config/index.js';
import { createLogger, type Redactor } from './core/index.js';

export interface RunServerOptions {
  config: Config;
  redactor: Redactor;
  version: string;
  /** Resolves with a reason when the process should stop; defaults to SIGTERM/SIGINT. */
  stop?: Promise<string> | undefined;
  /** Runs once the server listens; the function it returns runs first at shutdown. */
  onStarted?: (services: Services) => Promise<(() => Promise<void>) | undefined>;
}

/**
 * `webasset serve`: builds everything from the config, serves until asked to
 * stop, then shuts down in order within the configured deadline (stop
 * accepting, finish in-flight requests, record the stop, flush the audit
 * trail, close the database). Returns the exit code.
 */
export async function runServer(options: RunServerOptions): Promise<number> {
  const { config, redactor } = options;
  const logger = createLogger({ level: config.logLevel, redactor, destination: pino.destination({ dest: 1, sync: false }) });
  const services = await openServices({ config, logger, redactor, version: options.version });
  let server;
  try {
    server = await startServer(services);
  } catch (error) {
    await services.close();
    throw error;
  }
  let detach: (() => Promise<void>) | undefined;
  try {
    detach = await options.onStarted?.(services);
  } catch (error) {
    await server.stop('start failed');
    throw error;
  }
  const reason = await (options.stop ?? signalled());
  logger.info({ reason }, 'shutting down');
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), config.shutdownTimeoutMs);
    timer.unref();
  });
  const stopAll = async () => {
    await detach?.();
    await server.stop(reason);
    return 'done' as const;
  };
  const outcome = await Promise.race([stopAll(), deadline]);
  clearTimeout(timer);
  if (outcome === 'timeout') logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown did not finish in time');
  logger.flush();
  return outcome === 'done' ? 0 : 1;
}

function signalled(): Promise<string> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(signal);
    };
    process.once('SIGTERM', on);
    process.once('SIGINT', on);
  });
}
