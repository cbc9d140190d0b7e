// Module layering of DESIGN.md, checked by `npm run lint` (see docs/decisions/0001-module-layering.md).
// Paths are relative to the repository root; every module is a folder `src/<name>/`.
// test/lint/layering.test.ts runs these rules on a generated tree with one violation of each kind.

/** What each module may import besides itself (DESIGN.md, "Modules"). Top may import below, never upward. */
const BELOW_SESSIONS = ['identity', 'access', 'vault', 'browser', 'recording', 'detect', 'audit', 'store', 'cluster', 'config', 'core'];
const SERVICE_DEPS = ['audit', 'store', 'cluster', 'config', 'core'];
const LAYERS = {
  cli: ['mcp', 'sessions', 'demo-portal', ...BELOW_SESSIONS],
  http: ['mcp', 'sessions', ...BELOW_SESSIONS],
  mcp: ['sessions', ...BELOW_SESSIONS],
  sessions: BELOW_SESSIONS,
  identity: SERVICE_DEPS,
  access: ['identity', ...SERVICE_DEPS],
  vault: SERVICE_DEPS,
  browser: SERVICE_DEPS,
  recording: SERVICE_DEPS,
  detect: SERVICE_DEPS,
  audit: ['store', 'config', 'core'],
  store: ['config', 'core'],
  cluster: ['config', 'core'],
  config: ['core'],
  core: [],
  // A stand-in for someone else's portal (tests, quickstart): only core, and only the CLI and the root start it.
  'demo-portal': ['core'],
};
const MODULES = Object.keys(LAYERS);
const anyOf = (names) => `(${names.join('|')})`;

const layerRules = MODULES.map((name) => ({
  name: `layer-${name}`,
  comment: `src/${name} may import only ${LAYERS[name].length > 0 ? LAYERS[name].join(', ') : 'nothing of ours'} (DESIGN.md module layering)`,
  severity: 'error',
  from: { path: `^src/${name}/` },
  to: { path: '^src/[^/]+/', pathNot: `^src/${anyOf([name, ...LAYERS[name]])}/` },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'through-index-only',
      comment: 'another module is imported only through its index.ts (../store/index.js, never ../store/database.js)',
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { path: '^src/[^/]+/', pathNot: ['^src/$1/', '^src/[^/]+/index\\.ts$'] },
    },
    {
      name: 'root-through-index-only',
      comment: 'the composition root (src/main.ts, src/app.ts) imports modules through their index.ts too',
      severity: 'error',
      from: { path: '^src/[^/]+\\.ts$' },
      to: { path: '^src/[^/]+/', pathNot: '^src/[^/]+/index\\.ts$' },
    },
    {
      name: 'composition-root-not-imported',
      comment:
        'modules get their dependencies passed in; only the CLI (the process entry: `webasset serve`, `migrate`) may call the composition root',
      severity: 'error',
      from: { path: '^src/[^/]+/', pathNot: '^src/cli/' },
      to: { path: '^src/[^/]+\\.ts$' },
    },
    {
      name: 'cli-imports-only-main-or-app',
      comment: 'the only files at the top of src/ are the composition root, src/main.ts and src/app.ts',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/[^/]+\\.ts$', pathNot: '^src/(main|app)\\.ts$' },
    },
    {
      name: 'unknown-module',
      comment: `a folder under src/ that is not in the layering; add it to LAYERS in .dependency-cruiser.cjs and to DESIGN.md (known: ${MODULES.join(', ')})`,
      severity: 'error',
      from: { path: `^src/(?!${anyOf(MODULES)}/)[^/]+/` },
      to: {},
    },
    {
      name: 'to-unknown-module',
      comment: `imports a folder under src/ that is not in the layering; add it to LAYERS in .dependency-cruiser.cjs and to DESIGN.md (known: ${MODULES.join(', ')})`,
      severity: 'error',
      from: {},
      to: { path: `^src/(?!${anyOf(MODULES)}/)[^/]+/` },
    },
    {
      name: 'playwright-only-in-browser',
      comment: 'nothing outside src/browser holds a Playwright object (DESIGN.md); others use the governed session handle',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/browser/' },
      to: { path: 'node_modules/(playwright|playwright-core|@playwright/[^/]+)/' },
    },
    {
      name: 'no-circular',
      comment: 'no dependency cycles, within a module or across modules',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that does not resolve to a file or an installed package',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'not-to-dev-dep',
      comment: 'src/ ships: it may not import a devDependency (type-only imports excepted)',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'], pathNot: 'node_modules/@types/' },
    },
    {
      name: 'no-non-package-json',
      comment: 'an npm package that is not declared in package.json',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|data|coverage|\\.tmp)/' },
    // Type-only imports count: a layer may not even name the types of a layer above it.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
