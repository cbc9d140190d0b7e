// ESLint flat config: typescript-eslint's type-checked recommended set, plus the rules a
// security product should not do without (unhandled promises, loose equality, stray output).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const TYPED_FILES = ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'vitest.config.ts', 'web/app/vite.config.ts'];
/** The web UI (browser code, Preact): its own tsconfig (DOM, JSX). */
const UI_FILES = ['web/app/src/**/*.{ts,tsx}'];

export default tseslint.config(
  { ignores: ['dist/', 'web/app/dist/', 'node_modules/', 'data/', '.tmp/', 'coverage/'] },

  js.configs.recommended,
  ...tseslint.configs.recommended,

  // Type-aware rules, only where a tsconfig covers the file (tsconfig.check.json: src, test, bench).
  {
    files: TYPED_FILES,
    extends: [...tseslint.configs.recommendedTypeCheckedOnly],
    languageOptions: {
      parserOptions: {
        project: './tsconfig.check.json',
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // A dropped promise is an audit write, a session end or a rejection nobody sees.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      // Passing on a caught `unknown` is as fine for reject() as it is for `throw` (only-throw-error's default).
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // Fastify plugins and port implementations are async by contract, with or without an await.
      '@typescript-eslint/require-await': 'off',
    },
  },

  // The web UI: the same type-aware rules, through its own tsconfig.
  {
    files: UI_FILES,
    extends: [...tseslint.configs.recommendedTypeCheckedOnly],
    languageOptions: {
      parserOptions: {
        project: './web/app/tsconfig.json',
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/only-throw-error': 'error',
    },
  },

  // All code.
  {
    rules: {
      eqeqeq: ['error', 'always'],
      'no-console': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },

  // src/: modules take the environment as a parameter (DESIGN.md); only the CLI writes to the terminal.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**', 'src/main.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Take the environment as a parameter; only the composition root and the CLI read process.env.' },
      ],
    },
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: { 'no-console': 'off' },
  },

  // Tests, benchmarks and tooling print freely.
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'bin/**/*.js', '*.config.{js,ts}', '*.cjs'],
    rules: { 'no-console': 'off' },
  },
  // Tests and benchmarks read JSON bodies (`any`) all the time and do not ship: the `any` rules
  // stay in src/ only. The promise rules stay on everywhere.
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },

  // Plain JavaScript run by Node (bin/, config files).
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    languageOptions: {
      // Node's globals (the `globals` package is not a direct dependency, so they are listed here).
      globals: Object.fromEntries(
        [
          'process', 'console', 'Buffer', 'URL', 'URLSearchParams', 'AbortController', 'AbortSignal',
          'TextEncoder', 'TextDecoder', 'structuredClone', 'queueMicrotask', 'fetch',
          'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { module: 'writable', require: 'readonly', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
