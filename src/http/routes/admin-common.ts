import type { FastifyRequest } from 'fastify';
import type { Permission } from '../../access/index.js';
import { AppError } from '../../core/index.js';
import type { Principal } from '../../identity/index.js';
import type { RouteAccess } from '../route-access.js';

/** Route config of an admin route: the role permission it needs (checked before the body is read). */
export function needs(permission: Permission): { access: RouteAccess } {
  return { access: { kind: 'permission', permission } };
}

/** The caller; the route-access guard has identified and authorized it before the handler runs. */
export function callerOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError('unauthenticated');
  return request.principal;
}

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
export const ASSET_ID_PATTERN = '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$';

export const idParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', pattern: UUID_PATTERN } },
} as const;

export const assetIdParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', pattern: ASSET_ID_PATTERN } },
} as const;

export const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;

export const nullableString = { type: ['string', 'null'] } as const;
export const stringArray = { type: 'array', items: { type: 'string' } } as const;
export const roleList = { type: 'array', maxItems: 4, uniqueItems: true, items: { type: 'string', enum: ['admin', 'auditor', 'operator', 'agent'] } } as const;

export const timeWindowJson = {
  type: ['object', 'null'],
  additionalProperties: false,
  required: ['timeZone', 'days', 'start', 'end'],
  properties: {
    timeZone: { type: 'string', minLength: 1, maxLength: 64 },
    days: { type: 'array', minItems: 1, maxItems: 7, uniqueItems: true, items: { type: 'integer', minimum: 1, maximum: 7 } },
    start: { type: 'string', pattern: '^(?:[01][0-9]|2[0-3]):[0-5][0-9]$' },
    end: { type: 'string', pattern: '^(?:(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00)$' },
  },
} as const;

/** `{ ok: true }`-less deletes: 204 with no body. */
export const noContent = { 204: { type: 'null' } } as const;
