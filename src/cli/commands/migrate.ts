import { EXIT } from '../exit-codes.js';
import { withServices, type CommandContext } from '../context.js';
import { writeLine } from '../io.js';

/** Migrations run when the services open; this command only reports. */
export async function migrateCommand(ctx: CommandContext): Promise<number> {
  await withServices(ctx, async (services) => {
    writeLine(ctx.io.stdout, `database (${services.database.kind}) is at the latest migration`);
  });
  return EXIT.ok;
}
