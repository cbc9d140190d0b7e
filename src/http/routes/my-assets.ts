import type { FastifyInstance } from 'fastify';
import type { Access } from '../../access/index.js';
import type { Principal } from '../../identity/index.js';

export interface MyAssetsRouteDeps {
  access: Pick<Access, 'visibleAssets'>;
}

const assetSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    url: { type: 'string' },
    available: { type: 'boolean' },
    reason: { type: ['string', 'null'] },
  },
} as const;

/**
 * `GET /api/assets`: the assets the caller may open a browser session on (`connect`), for the
 * launcher. The access module decides (the same rule as POST /api/sessions); an asset whose grant
 * does not allow it right now stays listed with `available: false` and the reason.
 */
export async function myAssetsRoutes(app: FastifyInstance, deps: MyAssetsRouteDeps): Promise<void> {
  app.get(
    '/api/assets',
    {
      config: { access: { kind: 'authenticated' } },
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        response: { 200: { type: 'object', properties: { assets: { type: 'array', items: assetSchema } } } },
      },
    },
    async (request) => {
      const assets = await deps.access.visibleAssets(request.principal as Principal, 'connect');
      return { assets: assets.map((a) => ({ id: a.id, name: a.name, url: a.url, available: a.available, reason: a.reason ?? null })) };
    },
  );
}
