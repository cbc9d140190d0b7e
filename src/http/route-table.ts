import type { FastifyInstance } from 'fastify';
import type { RouteAccess } from './route-access.js';

/** One method of one route, as registered: what the authorization matrix test and API docs enumerate. */
export interface RouteEntry {
  method: string;
  url: string;
  access: RouteAccess | undefined;
}

const tables = new WeakMap<FastifyInstance, RouteEntry[]>();

/** Records every route added to `app` from now on (call it before any route is registered). */
export function recordRouteTable(app: FastifyInstance): void {
  const entries: RouteEntry[] = [];
  tables.set(app, entries);
  app.addHook('onRoute', (route) => {
    const access = (route.config)?.access;
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) entries.push({ method, url: route.url, access });
  });
}

/** Every route of `app`, in registration order (empty if the table was not recorded). */
export function routeTableOf(app: FastifyInstance): readonly RouteEntry[] {
  return [...(tables.get(app) ?? [])];
}
