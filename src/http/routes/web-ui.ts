import { readdir, readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError } from '../../core/index.js';

export interface WebUiRouteDeps {
  /** The built UI (`npm run build`: web/app/dist); tests may point elsewhere. */
  dir?: URL | undefined;
}

/** The built UI, beside the sources in the repository and in an installed package alike. */
export const WEB_UI_DIR = new URL('../../../web/app/dist/', import.meta.url);

/**
 * The addresses the single-page app answers itself (web/app/src/router.ts). Listed one by one rather
 * than a catch-all, so that no other page of the product (/sessions/:id/view, /recordings/..., /api)
 * can be shadowed by the app, and an unknown address stays a 404.
 */
export const CLIENT_ROUTES = ['/', '/sign-in', '/enrol', '/my-sessions', '/audit', '/recordings', '/admin'] as const;

/**
 * The app's pages of one thing, named by its id (the live view of a session). The id is checked as
 * the API checks it; the app asks the API whether that thing exists and is the caller's to see.
 */
export const CLIENT_ID_ROUTES = ['/sessions/:id'] as const;
const idParams = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
};

const fileParams = {
  type: 'object',
  additionalProperties: false,
  required: ['file'],
  properties: { file: { type: 'string', pattern: '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$' } },
} as const;

/** Hashed file names never change content: a browser may keep them for a year. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * The web UI: its page at each client route, and its files under /ui/assets/ (names carry a content
 * hash). Everything is read into memory once, at start; the same bytes go to everyone, nothing is
 * templated in, so every answer keeps the product's strict CSP and security headers. Public: the
 * code holds no secret, and the app asks the API who is signed in.
 */
export async function webUiRoutes(app: FastifyInstance, deps: WebUiRouteDeps): Promise<void> {
  const dir = deps.dir ?? WEB_UI_DIR;
  const page = await readFile(new URL('index.html', dir)).catch(() => null);
  const files = new Map<string, { body: Buffer; type: string }>();
  if (page) {
    const assetsDir = new URL('assets/', dir);
    for (const name of await readdir(assetsDir).catch(() => [] as string[])) {
      const type = TYPES[extname(name)];
      if (type) files.set(name, { body: await readFile(new URL(name, assetsDir)), type });
    }
  } else {
    app.log.warn({ dir: dir.pathname }, 'the web UI is not built (npm run build): its pages answer 404');
  }

  const querystring = { type: 'object', additionalProperties: { type: 'string', maxLength: 2048 }, maxProperties: 10 } as const;
  const answer = async (_request: unknown, reply: FastifyReply) => {
    if (!page) throw new AppError('not_found', { publicMessage: 'The web UI is not built; run `npm run build`.' });
    return reply.type('text/html; charset=utf-8').send(page);
  };
  for (const url of CLIENT_ROUTES) app.get(url, { config: { access: { kind: 'public' } }, schema: { querystring } }, answer);
  for (const url of CLIENT_ID_ROUTES) app.get(url, { config: { access: { kind: 'public' } }, schema: { params: idParams, querystring } }, answer);

  app.get<{ Params: { file: string } }>('/ui/assets/:file', { config: { access: { kind: 'public' } }, schema: { params: fileParams } }, async (request, reply) => {
    const file = files.get(request.params.file);
    if (!file) throw new AppError('not_found');
    return reply.header('cache-control', IMMUTABLE).type(file.type).send(file.body);
  });
}
