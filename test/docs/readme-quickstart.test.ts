import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The README's two newcomer commands (install and start with the demo portal; run all tests) are
// the project's front door, and a rewrite of the status paragraph once cut them by mistake. These
// checks keep them there, runnable, and the test command the one CI runs.

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const readme = readFileSync(join(repo, 'README.md'), 'utf8');
const ci = readFileSync(join(repo, '.ci/run'), 'utf8');
const scripts = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

/** The `sh` code blocks of a markdown section `## <heading>…` (up to the next `## `), one command per line. */
function commandsUnder(headingStart: string): string[] {
  const start = readme.split('\n').findIndex((line) => line.startsWith(`## ${headingStart}`));
  if (start === -1) throw new Error(`README: no section starting "## ${headingStart}"`);
  const rest = readme.split('\n').slice(start + 1);
  const end = rest.findIndex((line) => line.startsWith('## '));
  const section = rest.slice(0, end === -1 ? undefined : end).join('\n');
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((block) => block[1]!.split('\n').map((line) => line.trim()).filter(Boolean));
}

/** The npm scripts a command line runs (`npm install && npm run demo` → install, demo). */
function npmScripts(line: string): string[] {
  return line.split('&&').map((part) => part.trim()).flatMap((part) => {
    const match = /^npm (?:run )?([\w:-]+)/.exec(part);
    return match ? [match[1]!] : [];
  });
}

describe('README quickstart', () => {
  const commands = commandsUnder('Quickstart');

  it('has the command that installs and starts the product with the demo portal, and it names real scripts', () => {
    const start = commands.find((line) => npmScripts(line).includes('install') && npmScripts(line).includes('demo'));
    expect(start, `Quickstart commands: ${commands.join(' | ')}`).toBeDefined();
    expect(scripts.demo).toMatch(/WEBASSET_DEMO_PORTAL_PORT/);
  });

  it('has the command that runs all tests, and .ci/run runs that same command', () => {
    expect(commands).toContain('npm test');
    expect(scripts.test).toBeDefined();
    // CI calls `npm test` itself (with reporter flags after `--`), once per backend.
    const ciRuns = [...ci.matchAll(/\bnpm test\b/g)].length;
    expect(ciRuns).toBeGreaterThanOrEqual(1);
    expect(ci).toMatch(/TEST_DATABASE_URL/);
    expect(ci).toMatch(/TEST_REDIS_URL/);
  });
});
