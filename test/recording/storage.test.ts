import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileRecordingStorage, isRecordingId, type RecordingStorage } from '../../src/recording/index.js';

const ID = '3f2c8f0e-6a55-4d1b-9c3e-2b8f7a1d4e60';

describe('file recording storage', () => {
  let dir: string;
  let storage: RecordingStorage;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'webasset-rec-'));
    storage = createFileRecordingStorage(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes whole chunk files named chunk-000001.war and a manifest, leaving nothing else', async () => {
    await storage.create(ID);
    await storage.writeChunk(ID, 2, Buffer.from('two'));
    await storage.writeChunk(ID, 1, Buffer.from('one'));
    await storage.writeManifest(ID, Buffer.from('{}'));
    expect(readdirSync(join(dir, ID)).sort()).toEqual(['chunk-000001.war', 'chunk-000002.war', 'manifest.json']);
    expect(await storage.listChunks(ID)).toEqual([1, 2]);
    expect((await storage.readChunk(ID, 1))?.toString()).toBe('one');
    expect((await storage.readManifest(ID))?.toString()).toBe('{}');
    expect(statSync(join(dir, ID, 'chunk-000001.war')).mode & 0o777).toBe(0o600);
  });

  it('answers null or nothing for what does not exist', async () => {
    expect(await storage.readChunk(ID, 1)).toBeNull();
    expect(await storage.readManifest(ID)).toBeNull();
    expect(await storage.listChunks(ID)).toEqual([]);
    await storage.remove(ID);
  });

  it('ignores temp files and other names when listing chunks', async () => {
    await storage.create(ID);
    writeFileSync(join(dir, ID, '.chunk-000003.war.abc.tmp'), 'x');
    writeFileSync(join(dir, ID, 'chunk-1.war'), 'x');
    await storage.writeChunk(ID, 1, Buffer.from('one'));
    expect(await storage.listChunks(ID)).toEqual([1]);
  });

  it('writing the manifest sweeps our own temp files a crash left behind, nothing else', async () => {
    await storage.create(ID);
    writeFileSync(join(dir, ID, '.chunk-000003.war.0123456789ab.tmp'), 'x');
    writeFileSync(join(dir, ID, '.probe-0123456789ab'), 'x');
    writeFileSync(join(dir, ID, 'notes.txt'), 'x');
    await storage.writeChunk(ID, 1, Buffer.from('one'));
    await storage.writeManifest(ID, Buffer.from('{}'));
    expect(readdirSync(join(dir, ID)).sort()).toEqual(['chunk-000001.war', 'manifest.json', 'notes.txt']);
  });

  it('removes a recording folder', async () => {
    await storage.writeChunk(ID, 1, Buffer.from('one'));
    await storage.remove(ID);
    expect(readdirSync(dir)).toEqual([]);
  });

  it.each([
    '../etc',
    '..',
    `${ID}/../x`,
    `../${ID}`,
    `${ID}\u0000`,
    '3f2c8f0e-6a55-1d1b-9c3e-2b8f7a1d4e60', // not version 4
    '3F2C8F0E6A554D1B9C3E2B8F7A1D4E60',
    '',
    ` ${ID}`,
    '%2e%2e%2f',
  ])('refuses the id %j before building any path (not_found)', async (bad) => {
    mkdirSync(join(dir, 'victim'));
    for (const call of [
      () => storage.create(bad),
      () => storage.writeChunk(bad, 1, Buffer.from('x')),
      () => storage.readChunk(bad, 1),
      () => storage.listChunks(bad),
      () => storage.writeManifest(bad, Buffer.from('x')),
      () => storage.readManifest(bad),
      () => storage.remove(bad),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'not_found' });
    }
    expect(readdirSync(dir)).toEqual(['victim']);
    expect(isRecordingId(bad)).toBe(false);
  });

  it('refuses chunk numbers that are not positive integers', async () => {
    for (const seq of [0, -1, 1.5, Number.NaN, 1e12]) {
      await expect(storage.writeChunk(ID, seq, Buffer.from('x'))).rejects.toMatchObject({ code: 'invalid_request' });
    }
  });

  it('create fails when the folder cannot be written', async () => {
    const blocked = createFileRecordingStorage(join(dir, 'file-not-folder'));
    writeFileSync(join(dir, 'file-not-folder'), 'x');
    await expect(blocked.create(ID)).rejects.toThrow();
  });
});
