import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Services } from '../app.js';
import type { Actor } from '../audit/index.js';
import { AppError } from '../core/index.js';
import { ADMIN_SOCKET_NAME, forwardToServer } from './admin-socket.js';
import { auditCommand } from './commands/audit.js';
import { demoPortalCommand } from './commands/demo-portal.js';
import { mcpCommand } from './commands/mcp.js';
import { migrateCommand } from './commands/migrate.js';
import { recordingCommand } from './commands/recording.js';
import { serveCommand } from './commands/serve.js';
import { tokensCommand } from './commands/tokens.js';
import { usersCommand } from './commands/users.js';
import { importCommand } from './commands/import.js';
import { vaultCommand } from './commands/vault.js';
import { cliActor, loadCliConfig, type CommandContext } from './context.js';
import { EXIT, describeCliError } from './exit-codes.js';
import { COMMANDS_HELP, helpText } from './help.js';
import { writeLine, type CliIo } from './io.js';

const COMMANDS: Record<string, (ctx: CommandContext, args: string[]) => Promise<number>> = {
  serve: serveCommand,
  migrate: (ctx, args) => {
    if (args.length > 0) throw new AppError('invalid_request', { publicMessage: 'migrate takes no arguments' });
    return migrateCommand(ctx);
  },
  audit: auditCommand,
  tokens: tokensCommand,
  users: usersCommand,
  import: importCommand,
  vault: vaultCommand,
  'demo-portal': demoPortalCommand,
  recording: recordingCommand,
  mcp: mcpCommand,
};

/** Commands that need the database and may therefore run inside a server holding the embedded one. */
const FORWARDABLE = new Set(['migrate', 'audit', 'tokens', 'users', 'import', 'vault', 'demo-portal', 'recording']);

/**
 * Runs `webasset ...` and returns the exit code; every error is mapped here, never thrown.
 * `services` is given when the command runs inside the server, through the admin socket.
 */
export async function runCli(argv: string[], io: CliIo, services?: Services, actor: Actor = cliActor()): Promise<number> {
  const version = readVersion();
  const args = [...argv];
  let configPath: string | undefined;
  const configAt = args.findIndex((a) => a === '--config' || a.startsWith('--config='));
  if (configAt !== -1) {
    const arg = args[configAt]!;
    configPath = arg.includes('=') ? arg.slice('--config='.length) : args[configAt + 1];
    args.splice(configAt, arg.includes('=') ? 1 : 2);
    if (!configPath) {
      writeLine(io.stderr, 'error [invalid_request]: --config needs a file path');
      return EXIT.usage;
    }
  }
  const [command, ...rest] = args;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help' || rest.includes('--help') || rest.includes('-h')) {
    writeLine(io.stdout, helpText());
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (command === '--version') {
    writeLine(io.stdout, version);
    return EXIT.ok;
  }
  const run = COMMANDS[command];
  if (services && !FORWARDABLE.has(command)) {
    writeLine(io.stderr, `error [invalid_request]: '${command}' cannot run through the admin socket`);
    return EXIT.usage;
  }
  if (!run) {
    writeLine(io.stderr, `error [invalid_request]: unknown command '${command}'\n\n${COMMANDS_HELP}`);
    return EXIT.usage;
  }
  const ctx: CommandContext = { io, version, configPath, actor, services, dispatch: (a, i, s, who) => runCli(a, i, s, who) };
  try {
    return await run(ctx, rest);
  } catch (error) {
    if (error instanceof AppError && error.code === 'embedded_database_locked' && !services && FORWARDABLE.has(command)) {
      const forwarded = await forwardToServer(join(loadCliConfig(ctx).config.dataDir, ADMIN_SOCKET_NAME), args, actor, io);
      if (forwarded !== null) return forwarded;
    }
    if (isArgsError(error)) {
      writeLine(io.stderr, `error [invalid_request]: ${(error as Error).message}\nRun webasset --help for usage.`);
      return EXIT.usage;
    }
    const { code, message } = describeCliError(error);
    writeLine(io.stderr, message);
    if (code === EXIT.failure && io.env.LOG_LEVEL === 'debug') writeLine(io.stderr, debugDetail(ctx, error));
    return code;
  }
}

/** The unexpected error's own words, with every configured secret blanked. */
function debugDetail(ctx: CommandContext, error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ''}` : String(error);
  try {
    return loadCliConfig(ctx).redactor.redactText(text);
  } catch {
    return '(details withheld: the configuration could not be loaded to redact them)';
  }
}

/** parseArgs rejects unknown or malformed flags with ERR_PARSE_ARGS_* codes. */
function isArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

function readVersion(): string {
  // Two levels up from both src/cli and dist/cli.
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}
