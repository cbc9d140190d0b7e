/** A recording id is a lowercase-or-uppercase UUID v4; checked before any path or query is built from it. */
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

export function isRecordingId(value: unknown): value is string {
  return typeof value === 'string' && UUID_V4.test(value);
}
