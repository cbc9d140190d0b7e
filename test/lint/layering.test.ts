import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Runs the real .dependency-cruiser.cjs on a small generated tree, so that a rule whose
// pattern silently matches nothing (and lets every upward import through) is caught.
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const depcruise = join(repo, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

const FILES: Record<string, string> = {
  'tsconfig.json': JSON.stringify({
    compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, verbatimModuleSyntax: true },
    include: ['src/**/*.ts'],
  }),
  'package.json': JSON.stringify({ name: 'fixture', type: 'module' }),
  // Allowed: the composition root and the CLI reach everything through index.ts.
  'src/main.ts': "import { app } from './app.js';\nexport const main = app;\n",
  'src/app.ts':
    "import { core } from './core/index.js';\nimport { store } from './store/index.js';\nimport { http } from './http/index.js';\nexport const app = [core, store, http];\n",
  'src/cli/index.ts': "import { main } from '../main.js';\nimport { sessions } from '../sessions/index.js';\nexport const cli = [main, sessions];\n",
  'src/http/index.ts': "import { sessions } from '../sessions/index.js';\nimport { mcp } from '../mcp/index.js';\nexport const http = [sessions, mcp];\n",
  // MCP sits below http and cli, above sessions.
  'src/mcp/index.ts': "import { sessions } from '../sessions/index.js';\nexport const mcp = sessions;\n",
  'src/sessions/index.ts': "import { access } from '../access/index.js';\nexport const sessions = access;\n",
  'src/access/index.ts': "import { identity } from '../identity/index.js';\nexport const access = identity;\n",
  'src/identity/index.ts': "import { audit } from '../audit/index.js';\nexport const identity = audit;\n",
  'src/audit/index.ts': "import { store } from '../store/index.js';\nimport { own } from './own.js';\nexport const audit = [store, own];\n",
  'src/audit/own.ts': "import { config } from '../config/index.js';\nexport const own = config;\n",
  'src/store/index.ts': "import { config } from '../config/index.js';\nexport const store = config;\n",
  'src/config/index.ts': "import { core } from '../core/index.js';\nexport const config = core;\n",
  'src/core/index.ts': 'export const core = 1;\n',
  // Violations, one per rule.
  'src/core/upward.ts': "import { store } from '../store/index.js';\nexport const upward = store;\n",
  'src/config/types.ts': "import type { AuditThing } from '../audit/types.js';\nexport type T = AuditThing;\n",
  'src/audit/types.ts': 'export type AuditThing = string;\n',
  'src/audit/deep.ts': "import { inner } from '../store/inner.js';\nexport const deep = inner;\n",
  'src/store/inner.ts': 'export const inner = 2;\n',
  'src/identity/sideways.ts': "import { vault } from '../vault/index.js';\nexport const sideways = vault;\n",
  'src/vault/index.ts': 'export const vault = 3;\n',
  'src/http/peer.ts': "import { cli } from '../cli/index.js';\nexport const peer = cli;\n",
  'src/mcp/upward.ts': "import { http } from '../http/index.js';\nexport const upward = http;\n",
  'src/store/root.ts': "import { app } from '../app.js';\nexport const root = app;\n",
  'src/store/cycle-a.ts': "import { b } from './cycle-b.js';\nexport const a = (): number => b();\n",
  'src/store/cycle-b.ts': "import { a } from './cycle-a.js';\nexport const b = (): number => a();\n",
  'src/gadgets/index.ts': "import { core } from '../core/index.js';\nexport const gadgets = core;\n",
};

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

describe('module layering rules (.dependency-cruiser.cjs)', () => {
  let dir: string;
  let violations: Violation[];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'webasset-layering-'));
    for (const [path, text] of Object.entries(FILES)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const run = spawnSync(process.execPath, [depcruise, 'src', '--config', join(repo, '.dependency-cruiser.cjs'), '-T', 'json'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(run.stdout, run.stderr).not.toBe('');
    const result = JSON.parse(run.stdout) as { summary: { violations: Violation[] } };
    violations = result.summary.violations;
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const found = (rule: string) =>
    violations
      .filter((v) => v.rule.name === rule)
      .map((v) => `${v.from} -> ${v.to}`)
      .sort();

  it('reports each kind of violation and nothing else', () => {
    expect(found('layer-core')).toEqual(['src/core/upward.ts -> src/store/index.ts']);
    expect(found('layer-config')).toEqual(['src/config/types.ts -> src/audit/types.ts']);
    expect(found('layer-identity')).toEqual(['src/identity/sideways.ts -> src/vault/index.ts']);
    expect(found('layer-http')).toEqual(['src/http/peer.ts -> src/cli/index.ts']);
    expect(found('layer-mcp')).toEqual(['src/mcp/upward.ts -> src/http/index.ts']);
    expect(found('through-index-only')).toEqual(['src/audit/deep.ts -> src/store/inner.ts', 'src/config/types.ts -> src/audit/types.ts']);
    expect(found('composition-root-not-imported')).toEqual(['src/store/root.ts -> src/app.ts']);
    expect(found('unknown-module')).toEqual(['src/gadgets/index.ts -> src/core/index.ts']);
    // A cycle is reported once, from whichever of its modules the cruise reached first.
    expect(found('no-circular')).toHaveLength(1);
    expect(found('no-circular')[0]).toMatch(/^src\/store\/cycle-[ab]\.ts -> src\/store\/cycle-[ab]\.ts$/);
    const expected = new Set([
      'layer-core',
      'layer-config',
      'layer-identity',
      'layer-http',
      'layer-mcp',
      'through-index-only',
      'composition-root-not-imported',
      'unknown-module',
      'no-circular',
    ]);
    expect(violations.filter((v) => !expected.has(v.rule.name))).toEqual([]);
  });
});
