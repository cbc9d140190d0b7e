/**
 * Removes secrets from anything on its way out (audit events, logs, HTTP
 * bodies). Two rules: a value registered as secret is replaced wherever it
 * appears inside a string, and a field whose name says it holds a secret is
 * replaced whatever its value.
 */
export interface Redactor {
  /** Registers a secret value; values shorter than {@link MIN_SECRET_LENGTH} are ignored. */
  addSecret(value: string): void;
  /** Replaces every registered secret value inside `text`. */
  redactText(text: string): string;
  /** Returns a copy of a JSON-like value with secret fields and values replaced. */
  redactValue<T>(value: T): T;
  /** True when `text` contains a registered secret value. */
  containsSecret(text: string): boolean;
}

export const REDACTED = '[REDACTED]';
/** Shorter values would blank out ordinary words; such secrets are refused upstream. */
export const MIN_SECRET_LENGTH = 4;

/** Field names that hold secrets; matched on the normalized name (lowercase, no separators). */
const SECRET_NAME =
  /(password|passwd|passphrase|pwd|secret|token|apikey|privatekey|masterkey|signingkey|totp|^otp|otpcode|seed|cookie|authorization|credential|sessionid)/;

/** Names the pattern catches that hold no secret: a token's id is how the audit tells an agent's tokens apart. */
const NOT_SECRET_NAME = new Set(['tokenid', 'apitokenid']);

export function isSecretFieldName(name: string): boolean {
  const normalized = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  return SECRET_NAME.test(normalized) && !NOT_SECRET_NAME.has(normalized);
}

export function createRedactor(initialSecrets: Iterable<string> = []): Redactor {
  const secrets = new Set<string>();
  let pattern: RegExp | null = null;

  function rebuild(): void {
    // Longest first, so a secret that contains another is replaced whole.
    const sorted = [...secrets].sort((a, b) => b.length - a.length);
    pattern = sorted.length ? new RegExp(sorted.map(escapeRegExp).join('|'), 'g') : null;
  }

  function redactText(text: string): string {
    return pattern ? text.replace(pattern, REDACTED) : text;
  }

  function redactAny(value: unknown, depth: number): unknown {
    if (typeof value === 'string') return redactText(value);
    if (value === null || typeof value !== 'object' || depth > 64) return value;
    if (Array.isArray(value)) return value.map((v) => redactAny(v, depth + 1));
    // Only plain data is walked; class instances (requests, sockets, errors) are left to their serializers.
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value;
    // No prototype, so a key named __proto__ stays an ordinary key instead of vanishing.
    const out = Object.create(null) as Record<string, unknown>;
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      const safeKey = redactText(key);
      out[safeKey] = isSecretFieldName(key) && v !== null && v !== undefined ? REDACTED : redactAny(v, depth + 1);
    }
    return out;
  }

  const redactor: Redactor = {
    addSecret(value) {
      if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH || secrets.has(value)) return;
      secrets.add(value);
      rebuild();
    },
    redactText,
    redactValue: <T>(value: T) => redactAny(value, 0) as T,
    containsSecret: (text) => {
      if (!pattern) return false;
      pattern.lastIndex = 0;
      const found = pattern.test(text);
      pattern.lastIndex = 0;
      return found;
    },
  };
  for (const s of initialSecrets) redactor.addSecret(s);
  return redactor;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
