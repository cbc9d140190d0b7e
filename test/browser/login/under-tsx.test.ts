import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const TSX = import.meta.resolve('tsx');

describe('the automatic recipe under tsx (bench, development runs)', () => {
  it('signs in: page functions survive a transform that keeps function names', async () => {
    const child = spawn(process.execPath, ['--import', TSX, join(import.meta.dirname, 'tsx-child.ts')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(out).toContain('"ok":true');
    expect(code).toBe(0);
  });
});
