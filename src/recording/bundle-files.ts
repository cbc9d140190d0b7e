import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { publicKeyId } from '../audit/index.js';
import { chunkFileName, chunkSeqs, readIfExists } from './file-storage.js';
import type { RecordingFiles } from './verify.js';

/** The recording inside an evidence bundle: `<dir>/recording/` holds the chunks and manifest.json. */
export function bundleFiles(dir: string): RecordingFiles {
  const folder = join(dir, 'recording');
  return {
    readManifest: () => readIfExists(join(folder, 'manifest.json')),
    async listChunks() {
      try {
        return chunkSeqs(await readdir(folder));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw error;
      }
    },
    readChunk: (seq) => readIfExists(join(folder, chunkFileName(seq))),
  };
}

/**
 * Key id of the bundle's `public-key.txt`: the first line that is a base64
 * 32-byte key (comment lines may surround it). Null when there is none.
 */
export async function bundlePublicKeyId(dir: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(join(dir, 'public-key.txt'), 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split(/\r?\n/)) {
    const candidate = line.trim().replace(/^[\w.-]+:\s*/, '');
    if (/^[A-Za-z0-9+/]{43}=$/.test(candidate) && Buffer.from(candidate, 'base64').length === 32) return publicKeyId(candidate);
  }
  return null;
}
