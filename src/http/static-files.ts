import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { FastifyInstance } from 'fastify';

/** The product's own pages ship as files under web/ (no build step); the same path from src/http and dist/http. */
const WEB_DIR = new URL('../../web/', import.meta.url);

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export interface WebFolder {
  /** Folder name under web/, also the URL prefix of its assets: `/<folder>/<name>`. */
  folder: string;
  /** The HTML page (served by the caller's own route, which decides who may open it). */
  page: string;
  /** Scripts and style sheets, served to anyone: the same code for everyone, with no secret in it. */
  assets: readonly string[];
}

/**
 * Reads a page of web/ with its scripts and style sheets once, at start, and
 * adds a public GET route for each asset. The page's bytes are returned for
 * the caller's route: they are the same for every id, so nothing is templated
 * into them and the strict CSP (no inline script or style) holds.
 */
export async function serveWebFolder(app: FastifyInstance, folder: WebFolder): Promise<Buffer> {
  const dir = new URL(`${folder.folder}/`, WEB_DIR);
  const page = await readFile(new URL(folder.page, dir));
  for (const name of folder.assets) {
    const type = TYPES[extname(name)];
    if (!type) throw new Error(`web/${folder.folder}/${name}: no content type for this kind of file`);
    const body = await readFile(new URL(name, dir));
    app.get(`/${folder.folder}/${name}`, { config: { access: { kind: 'public' } } }, async (_request, reply) => reply.type(type).send(body));
  }
  return page;
}
