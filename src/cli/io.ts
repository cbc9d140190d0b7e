import type { Readable, Writable } from 'node:stream';

/** Everything the CLI touches of its process, passed in so tests can run it in-process. */
export interface CliIo {
  env: Readonly<Record<string, string | undefined>>;
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  cwd: string;
  /** Resolves when the process is asked to stop (SIGTERM/SIGINT); `serve` waits on it. */
  stopSignal?: Promise<string>;
}

export function writeLine(stream: Writable, text: string): void {
  stream.write(`${text}\n`);
}
