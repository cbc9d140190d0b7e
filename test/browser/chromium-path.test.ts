import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findChromium } from '../../src/browser/index.js';
import { AppError } from '../../src/core/index.js';

const dir = mkdtempSync(join(tmpdir(), 'webasset-chromium-path-'));
const executable = join(dir, 'chromium');
writeFileSync(executable, '#!/bin/sh\n');
chmodSync(executable, 0o755);
const notExecutable = join(dir, 'plain');
writeFileSync(notExecutable, '');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('findChromium', () => {
  it('uses CHROMIUM_PATH when it names an executable file', () => {
    expect(findChromium(executable)).toBe(executable);
  });

  it('refuses a CHROMIUM_PATH that is not an executable file, naming the fix', () => {
    for (const path of [notExecutable, dir, join(dir, 'missing')]) {
      const error = catchError(() => findChromium(path));
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: 'browser_unavailable', status: 503 });
      expect((error as AppError).publicMessage).toContain('apt-get install -y chromium');
      expect((error as AppError).publicMessage).toContain('CHROMIUM_PATH');
    }
  });

  it('takes the first executable candidate when unset', () => {
    expect(findChromium(undefined, [join(dir, 'missing'), notExecutable, executable])).toBe(executable);
  });

  it('says how to install Chromium when none is found', () => {
    const error = catchError(() => findChromium(undefined, [join(dir, 'missing')]));
    expect(error).toMatchObject({ code: 'browser_unavailable' });
    expect((error as AppError).publicMessage).toMatch(/No Chromium was found.*apt-get install -y chromium/);
  });

  it('finds the system Chromium of this machine', () => {
    expect(findChromium(undefined)).toMatch(/chrom/i);
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}
