// Starts `webasset serve` as a real child process, for tests that need signals, the admin socket or a locked embedded database.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

const ENTRY = join(import.meta.dirname, 'cli-entry.ts');
// Resolved here, because the child runs in a temporary folder without node_modules.
const TSX = import.meta.resolve('tsx');
// The listening line is the one that carries the bound address; with PORT=0 nothing else tells us the port.
const LISTENING = /^.*webasset is listening.*$/m;
const URL_FIELD = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/;

export interface ServeChild {
  child: ChildProcess;
  url: string;
  /** Everything the child wrote to stdout and stderr so far, read late so that assertions see the shutdown logs too. */
  output: () => string;
}

/** Spawns `webasset serve` in `cwd` with exactly `env` and resolves once it is listening; rejects if it exits first. */
export async function startServe(env: NodeJS.ProcessEnv, cwd: string): Promise<ServeChild> {
  const child = spawn(process.execPath, ['--import', TSX, ENTRY, 'serve'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = URL_FIELD.exec(LISTENING.exec(output)?.[0] ?? '');
      if (m) {
        clearInterval(timer);
        resolve(m[1]!);
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`serve exited early with ${code}: ${output}`));
    });
  });
  return { child, url, output: () => output };
}

/** Stops a child left running by a failed test, so that its database and folder can be removed. */
export async function stopServe(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}
