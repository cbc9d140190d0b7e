import { OUTCOMES } from '../../audit/index.js';

/** The filters of the trail's search (GET /api/audit), which its download (GET /api/audit/export) takes too. */
export const AUDIT_FILTERS = {
  from: { type: 'string', description: 'ISO 8601 time, inclusive' },
  to: { type: 'string', description: 'ISO 8601 time, exclusive' },
  actor: { type: 'string', description: 'actor id' },
  action: { type: 'string', description: 'dotted action prefix, such as auth.login' },
  targetKind: { type: 'string' },
  targetId: { type: 'string' },
  outcome: { type: 'string', enum: [...OUTCOMES] },
} as const;
