import type { z } from 'zod';
import { AppError } from '../core/index.js';

/** Validates input with a strict schema; problems name the field and the rule, never the value sent. */
export function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new AppError('invalid_request', {
    publicMessage: 'The request is invalid; see details.',
    data: result.error.issues.map((i) => ({ field: i.path.join('.') || 'body', problem: i.message })),
  });
}
