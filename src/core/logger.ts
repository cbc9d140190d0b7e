import pino, { type DestinationStream, type Logger } from 'pino';
import { isSecretFieldName, REDACTED, type Redactor } from './redactor.js';

/** Paths pino blanks out whatever the value; the redactor also scrubs secret values from the final line. */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.secret',
  '*.token',
  '*.totpSeed',
  '*.masterKey',
];

export function createLogger(options: { level: string; redactor: Redactor; destination?: DestinationStream }): Logger {
  const { redactor } = options;
  return pino(
    {
      level: options.level,
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      // Fields named like a secret are blanked at any depth; errors pass through whole for their serializer.
      formatters: { log: (object) => redactFields(object, redactor) },
      // Last line of defence: whatever a caller put in a log line, a registered secret value never leaves.
      hooks: { streamWrite: (line) => redactor.redactText(scrubUrlSecrets(line)) },
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/**
 * One-time tokens that travel in a URL (enrolment links: `/api/auth/enrolment/<token>`,
 * `/enrol?token=<token>`) would otherwise reach the request log lines.
 */
const URL_SECRETS = /(\/api\/auth\/enrolment\/|[?&]token=)[A-Za-z0-9_%-]+/g;

export function scrubUrlSecrets(line: string): string {
  return line.replace(URL_SECRETS, `$1${REDACTED}`);
}

function redactFields(object: Record<string, unknown>, redactor: Redactor): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) {
    if (isSecretFieldName(key)) out[key] = REDACTED;
    else if (value instanceof Error || value === null || typeof value !== 'object') out[key] = value;
    else out[key] = redactor.redactValue(value);
  }
  return out;
}
