import { createRequire } from 'node:module';
import { AppError } from '../core/index.js';
import { auditCommand } from './commands/audit.js';
import { migrateCommand } from './commands/migrate.js';
import { serveCommand } from './commands/serve.js';
import { tokensCommand } from './commands/tokens.js';
import type { CommandContext } from './context.js';
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
};

/** Runs `webasset ...` and returns the exit code; every error is mapped here, never thrown. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
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
  if (!run) {
    writeLine(io.stderr, `error [invalid_request]: unknown command '${command}'\n\n${COMMANDS_HELP}`);
    return EXIT.usage;
  }
  try {
    return await run({ io, version, configPath }, rest);
  } catch (error) {
    if (isArgsError(error)) {
      writeLine(io.stderr, `error [invalid_request]: ${(error as Error).message}\nRun webasset --help for usage.`);
      return EXIT.usage;
    }
    const { code, message } = describeCliError(error);
    writeLine(io.stderr, message);
    return code;
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
