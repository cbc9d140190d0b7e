import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** An initialized, empty PGlite cluster that tests copy instead of running initdb each time. */
    pgliteTemplate: string;
  }
}

/**
 * PGlite's first start runs initdb (about 3 s here); copying an initialized
 * cluster takes a fraction of that. The template holds no tables: every test
 * still runs the migrations itself. Tests that start the product on an empty
 * data folder (CLI, serve) do not use it, so the first-start path stays tested.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const dir = mkdtempSync(join(tmpdir(), 'webasset-pglite-template-'));
  const pglite = await PGlite.create(join(dir, 'db'));
  await pglite.close();
  project.provide('pgliteTemplate', join(dir, 'db'));
  return () => rmSync(dir, { recursive: true, force: true });
}
