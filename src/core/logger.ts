import pino, { type DestinationStream, type Logger } from 'pino';
import { REDACTED, type Redactor } from './redactor.js';

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
      // Last line of defence: whatever a caller put in a log line, a registered secret value never leaves.
      hooks: { streamWrite: (line) => redactor.redactText(line) },
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
