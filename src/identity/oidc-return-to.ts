import { AppError } from '../core/index.js';

const RETURN_TO_MAX = 2048;
const BASE = 'https://return-to.invalid';

/**
 * Where to land after sign-in: only a path on this site. Anything that a
 * browser could read as another origin (`//evil`, `/\evil`, `https://evil`,
 * control characters, encoded slashes at the start) is refused with
 * `return_to_invalid`, so the sign-in can never become an open redirect.
 */
export function checkReturnTo(value: string | undefined): string {
  if (value === undefined || value === '') return '/';
  const refuse = () => new AppError('return_to_invalid');
  if (value.length > RETURN_TO_MAX) throw refuse();
  if (!value.startsWith('/') || value.startsWith('//')) throw refuse();
  // Browsers treat a backslash as a slash; and no legitimate path of ours needs one, or a control character.
  if (/[\\\p{Cc}\s]/u.test(value)) throw refuse();
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    throw refuse();
  }
  if (decoded.startsWith('//') || decoded.includes('\\')) throw refuse();
  const parsed = new URL(value, BASE);
  if (parsed.origin !== BASE) throw refuse();
  return `${parsed.pathname}${parsed.search}${parsed.hash}`;
}
