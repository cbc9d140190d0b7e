import { userInfo, hostname } from 'node:os';
import pino from 'pino';
import { openServices, type Services } from '../app.js';
import type { Actor } from '../audit/index.js';
import { loadConfig, type LoadedConfig } from '../config/index.js';
import { createLogger, createRedactor, type Redactor } from '../core/index.js';
import type { CliIo } from './io.js';

export interface CommandContext {
  io: CliIo;
  version: string;
  /** `--config FILE`, when given. */
  configPath: string | undefined;
  /** Who runs the command, as audit events name them. */
  actor: Actor;
  /** Set when the command runs inside the server (admin socket): use these instead of opening the database. */
  services?: Services | undefined;
  /** Runs another command line inside the server, for the admin socket. */
  dispatch: (argv: string[], io: CliIo, services: Services, actor: Actor) => Promise<number>;
}

export function loadCliConfig(ctx: CommandContext, flags: Record<string, unknown> = {}): LoadedConfig & { redactor: Redactor } {
  const loaded = loadConfig({ env: ctx.io.env, cwd: ctx.io.cwd, configPath: ctx.configPath, flags });
  return { ...loaded, redactor: createRedactor(loaded.secrets) };
}

/**
 * Opens the services for a one-shot command, runs it, and always settles the
 * audit trail and closes the database. Logs go to stderr so stdout carries
 * only the command's output (an export, a verdict).
 */
export async function withServices<T>(ctx: CommandContext, run: (services: Services) => Promise<T>): Promise<T> {
  if (ctx.services) return run(ctx.services);
  const { config, redactor } = loadCliConfig(ctx);
  const logger = createLogger({
    level: config.logLevel === 'info' ? 'warn' : config.logLevel,
    redactor,
    destination: pino.destination({ dest: 2, sync: true }),
  });
  const services = await openServices({ config, logger, redactor, version: ctx.version });
  try {
    return await run(services);
  } finally {
    await services.close();
  }
}

/** Who ran a CLI command: the operating-system account on this host. */
export function cliActor(): Actor {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers): keep "unknown".
  }
  return { kind: 'user', id: `os:${user}@${hostname()}`, name: `${user} (cli)` };
}
