#!/usr/bin/env node
// Thin launcher: the CLI lives in src/cli and is compiled to dist/ by `npm run build`.
import { setTimeout } from 'node:timers';
import { runCli } from '../dist/cli/main.js';

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
});
process.exitCode = code;
// Everything is closed by now; if a stuck handle (a hung database socket) would keep
// the process alive, leave anyway shortly after, once pending output is flushed.
setTimeout(() => process.exit(code), 2_000).unref();
