import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BUNDLE_FILES, verifyEvidence, type EvidenceDeps, type EvidenceReport } from './evidence.js';
import { extractTar } from './tar-reader.js';
import { folderEntries, tarSize, tarStream } from './tar-writer.js';

/**
 * An evidence bundle as one file: the folder `writeEvidence` wrote, as a
 * ustar archive that extracts into `evidence-<recording id>/`. Its size is
 * known before the first byte; the bytes are read from the folder as they go.
 */
export async function evidenceArchive(dir: string, recordingId: string): Promise<{ name: string; bytes: number; stream(): AsyncGenerator<Buffer> }> {
  const name = `evidence-${recordingId}`;
  const entries = await folderEntries(dir, name);
  return { name: `${name}.tar`, bytes: tarSize(entries), stream: () => tarStream(entries) };
}

/**
 * Checks an evidence archive (`.tar`, as `GET /api/recordings/:id/evidence`
 * answers it, or one made with `tar -cf` from a bundle folder): extracted into
 * a private folder under `scratchDir`, checked like the folder, then removed.
 */
export async function verifyEvidenceArchive(deps: Pick<EvidenceDeps, 'recordings' | 'publicKeys'>, archive: string, scratchDir: string): Promise<EvidenceReport> {
  await mkdir(scratchDir, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(join(scratchDir, 'webasset-evidence-'));
  try {
    await extractTar(archive, dir);
    return await verifyEvidence(deps, await bundleRoot(dir));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The bundle is the extracted folder itself, or the one folder it holds (`evidence-<id>/`). */
async function bundleRoot(dir: string): Promise<string> {
  if (existsSync(join(dir, BUNDLE_FILES.recording))) return dir;
  const names = await readdir(dir);
  if (names.length === 1) {
    const only = join(dir, names[0]!);
    if ((await stat(only)).isDirectory()) return only;
  }
  // verifyEvidence says what is missing.
  return dir;
}
