import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extractTar, folderEntries, tarHeader, tarSize, tarStream } from '../../src/recording/index.js';

const scratch = mkdtempSync(join(tmpdir(), 'webasset-tar-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

/** A folder shaped like an evidence bundle, with sizes on and off the 512-byte blocks (and an empty file). */
function sampleFolder(name: string): { dir: string; files: Record<string, Buffer> } {
  const dir = join(scratch, name);
  const files: Record<string, Buffer> = {
    'recording/chunk-000001.war': randomBytes(512),
    'recording/chunk-000002.war': randomBytes(70_001),
    'recording/manifest.json': Buffer.from('{"type":"webasset.recording.manifest"}\n'),
    'audit-events.ndjson': Buffer.from('{"type":"header"}\n'.repeat(40)),
    'public-key.txt': Buffer.from('current: ' + 'A'.repeat(43) + '=\n'),
    'verification.txt': Buffer.alloc(0),
  };
  for (const [path, bytes] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), bytes);
  }
  return { dir, files };
}

function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? filesUnder(join(dir, n), `${prefix}${n}/`) : [`${prefix}${n}`]));
}

describe('ustar writer (recording/tar-writer.ts)', () => {
  it('writes an archive GNU tar lists and extracts to identical bytes, of the size announced', async () => {
    const { dir, files } = sampleFolder('bundle-a');
    const entries = await folderEntries(dir, 'evidence-x');
    const bytes = await collect(tarStream(entries));
    expect(bytes.length).toBe(tarSize(entries));
    expect(bytes.length % 512).toBe(0);
    const archive = join(scratch, 'a.tar');
    writeFileSync(archive, bytes);

    const listing = execFileSync('tar', ['-tvf', archive], { encoding: 'utf8' });
    for (const path of Object.keys(files)) expect(listing).toContain(`evidence-x/${path}`);
    expect(listing).toMatch(/^drwxr-xr-x root\/root +0 .* evidence-x\/\n/m);
    expect(listing).toMatch(new RegExp(`^-rw-r--r-- root/root +70001 .* evidence-x/recording/chunk-000002.war$`, 'm'));
    // GNU tar calls it a POSIX archive, not its own format (no warning on stderr either).
    expect(execFileSync('tar', ['--test-label', '-f', archive], { encoding: 'utf8' })).toBe('');

    const out = join(scratch, 'gnu-out');
    mkdirSync(out);
    execFileSync('tar', ['-xf', archive, '-C', out]);
    expect(filesUnder(join(out, 'evidence-x')).sort()).toEqual(Object.keys(files).sort());
    for (const [path, content] of Object.entries(files)) expect(readFileSync(join(out, 'evidence-x', path)).equals(content), path).toBe(true);
  });

  it('splits a long name into prefix and name, as ustar allows, and refuses one too long', () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(90)}`;
    const header = tarHeader({ name: long, type: 'file', size: 0, mode: 0o644, mtimeMs: 0 });
    expect(header.toString('utf8', 345, 465)).toBe('d'.repeat(120));
    expect(header.toString('utf8', 0, 90)).toBe('f'.repeat(90));
    expect(() => tarHeader({ name: 'x'.repeat(300), type: 'file', size: 0, mode: 0o644, mtimeMs: 0 })).toThrow(/too long/);
  });

  it('refuses to go on when a file does not have the bytes announced (an archive with shifted headers is never sent whole)', async () => {
    const entry = { name: 'a', type: 'file' as const, size: 10, mode: 0o644, mtimeMs: 0, content: async function* () { yield Buffer.alloc(4); } };
    await expect(collect(tarStream([entry]))).rejects.toThrow(/4 bytes, not the 10/);
  });
});

describe('ustar reader (recording/tar-reader.ts)', () => {
  it('extracts its own archives and GNU tar archives of a bundle folder, byte for byte', async () => {
    const { dir, files } = sampleFolder('bundle-b');
    const own = join(scratch, 'b.tar');
    writeFileSync(own, await collect(tarStream(await folderEntries(dir, 'evidence-b'))));
    const gnu = join(scratch, 'b-gnu.tar');
    execFileSync('tar', ['-cf', gnu, '-C', dir, '.']);
    for (const [archive, root] of [[own, 'evidence-b'], [gnu, '']] as const) {
      const into = mkdtempSync(join(scratch, 'x-'));
      await extractTar(archive, into);
      for (const [path, content] of Object.entries(files)) expect(readFileSync(join(into, root, path)).equals(content), `${archive} ${path}`).toBe(true);
    }
  });

  it('refuses links, names that climb out, altered headers and cut-off archives, writing nothing outside', async () => {
    const src = join(scratch, 'hostile');
    mkdirSync(join(src, 'recording'), { recursive: true });
    writeFileSync(join(src, 'recording', 'manifest.json'), '{}');
    symlinkSync('/etc/passwd', join(src, 'recording', 'chunk-000001.war'));
    const linked = join(scratch, 'linked.tar');
    execFileSync('tar', ['-cf', linked, '-C', src, 'recording']);
    await expect(extractTar(linked, mkdtempSync(join(scratch, 'x-')))).rejects.toMatchObject({ code: 'invalid_request', publicMessage: expect.stringMatching(/neither a file nor a folder/) });

    const climbing = Buffer.concat([tarHeader({ name: '../escaped.txt', type: 'file', size: 0, mode: 0o644, mtimeMs: 0 }), Buffer.alloc(1024)]);
    writeFileSync(join(scratch, 'climb.tar'), climbing);
    const into = mkdtempSync(join(scratch, 'x-'));
    await expect(extractTar(join(scratch, 'climb.tar'), into)).rejects.toMatchObject({ publicMessage: expect.stringMatching(/not a plain relative name/) });
    expect(readdirSync(scratch)).not.toContain('escaped.txt');

    const good = await collect(tarStream([{ name: 'a.txt', type: 'file', size: 3, mode: 0o644, mtimeMs: 0, content: async function* () { yield Buffer.from('abc'); } }]));
    const altered = Buffer.from(good);
    altered[0] = 'b'.charCodeAt(0);
    writeFileSync(join(scratch, 'altered.tar'), altered);
    await expect(extractTar(join(scratch, 'altered.tar'), mkdtempSync(join(scratch, 'x-')))).rejects.toMatchObject({ publicMessage: expect.stringMatching(/checksum/) });
    writeFileSync(join(scratch, 'cut.tar'), good.subarray(0, 512 + 3));
    await expect(extractTar(join(scratch, 'cut.tar'), mkdtempSync(join(scratch, 'x-')))).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
