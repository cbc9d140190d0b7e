import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const APP = join(ROOT, 'web', 'app');
const OUT = join(APP, 'dist');

/** Newest modification time of the UI's sources (and of what builds them), in ms. */
function newestSource(): number {
  let newest = 0;
  const visit = (path: string) => {
    const stat = statSync(path);
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
    else newest = Math.max(newest, stat.mtimeMs);
  };
  for (const path of ['src', 'index.html', 'vite.config.ts', 'tsconfig.json']) visit(join(APP, path));
  visit(join(ROOT, 'package-lock.json'));
  return newest;
}

/**
 * Tests serve the built web UI (src/http/routes/web-ui.ts reads web/app/dist at start). On a clean
 * checkout it is missing, and after an edit it is stale: build it then, once for the run. The build
 * goes to a folder of its own and replaces web/app/dist in one rename, so a server starting in
 * another run meanwhile reads either the old UI or the new one, never half of one.
 */
export default function setup(): void {
  const built = join(OUT, 'index.html');
  if (existsSync(built) && statSync(built).mtimeMs >= newestSource()) return;
  const staging = join(ROOT, '.tmp', `ui-build-${process.pid}`);
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  execFileSync(join(ROOT, 'node_modules', '.bin', 'vite'), ['build', '--config', join(APP, 'vite.config.ts'), '--outDir', staging, '--logLevel', 'warn'], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  rmSync(OUT, { recursive: true, force: true });
  renameSync(staging, OUT);
}
