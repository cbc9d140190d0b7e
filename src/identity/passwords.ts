import { hash as argon2Hash, parseOptions, verify as argon2Verify, type Algorithm } from '@node-rs/argon2';
import { AppError } from '../core/index.js';
import { COMMON_PASSWORDS_TEXT } from './common-passwords.js';

/** Argon2id parameters: memory in KiB, passes, lanes. */
export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** OWASP's minimum for argon2id (19 MiB, 2 passes, 1 lane); the hasher refuses anything weaker. */
export const ARGON2ID_MINIMUM: Readonly<Argon2Params> = Object.freeze({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });

/** Shortest password the policy accepts, in Unicode code points after NFKC normalization. */
export const PASSWORD_MIN_LENGTH = 12;
/** Longest password accepted, in code points; it bounds the work an attacker can make us do. */
export const PASSWORD_MAX_LENGTH = 256;

// The package declares its algorithms as an ambient const enum, which isolatedModules cannot read.
const ARGON2ID = 2 as Algorithm;

/** Hashes and checks local account passwords with argon2id. */
export interface PasswordHasher {
  /**
   * A PHC string (`$argon2id$v=19$m=...`) with a fresh random salt. It does not apply the policy
   * (check new passwords with {@link PasswordPolicy} first); it only refuses oversized input.
   */
  hash(password: string): Promise<string>;
  /** Whether `password` matches `storedHash`; the comparison is constant-time inside the library. */
  verify(storedHash: string, password: string): Promise<boolean>;
  /**
   * Costs as much as a real verify and always answers false: call it when the account does not
   * exist, so that the response time does not tell whether it does.
   */
  verifyUnknownAccount(password: string): Promise<false>;
  /** True when `storedHash` was made with another algorithm or weaker parameters than the current ones. */
  needsRehash(storedHash: string): boolean;
}

/** The two argon2 calls the hasher makes (the @node-rs/argon2 ones by default); a test may wrap them to count the work done. */
export interface Argon2Primitives {
  hash: typeof argon2Hash;
  verify: typeof argon2Verify;
}

/**
 * A password hasher. Parameters default to {@link ARGON2ID_MINIMUM}; stronger ones may be given,
 * weaker ones are refused.
 */
export function createPasswordHasher(params: Partial<Argon2Params> = {}, deps: { argon2?: Argon2Primitives } = {}): PasswordHasher {
  const argon2 = deps.argon2 ?? { hash: argon2Hash, verify: argon2Verify };
  const current: Argon2Params = { ...ARGON2ID_MINIMUM, ...params };
  for (const key of ['memoryCost', 'timeCost', 'parallelism'] as const) {
    const value = current[key];
    if (!Number.isSafeInteger(value) || value < ARGON2ID_MINIMUM[key] || value > 2 ** 32 - 1) {
      throw new AppError('config_invalid', { publicMessage: `argon2id ${key} must be an integer of at least ${ARGON2ID_MINIMUM[key]}.` });
    }
  }
  const options = { ...current, algorithm: ARGON2ID };
  let dummyHash: Promise<string> | undefined;

  const hashPassword = async (password: string): Promise<string> => {
    const normalized = normalizePassword(password);
    if (codePoints(normalized) > PASSWORD_MAX_LENGTH) {
      throw new AppError('password_rejected', { publicMessage: `A password has at most ${PASSWORD_MAX_LENGTH} characters.`, data: [problem('too_long')] });
    }
    try {
      return await argon2.hash(normalized, options);
    } catch {
      // The library's error is dropped on purpose: nothing it says may carry the password along.
      throw new AppError('internal', { detail: 'argon2id hashing failed' });
    }
  };

  return {
    hash: hashPassword,

    // Every answer, oversized password or unknown account included, costs one argon2 verification of the same input
    // length: the response time must not tell whether the account exists.
    async verify(storedHash, password) {
      const { bounded, tooLong } = boundedPassword(password);
      if (!storedHash.startsWith('$argon2')) throw new AppError('internal', { detail: 'stored password hash is not an argon2 PHC string' });
      let matches: boolean;
      try {
        matches = await argon2.verify(storedHash, bounded);
      } catch {
        throw new AppError('internal', { detail: 'stored password hash could not be verified (malformed?)' });
      }
      return matches && !tooLong;
    },

    async verifyUnknownAccount(password) {
      dummyHash ??= hashPassword('unknown-account-placeholder');
      await argon2.verify(await dummyHash, boundedPassword(password).bounded).catch(() => false);
      return false;
    },

    needsRehash(storedHash) {
      let parsed;
      try {
        parsed = parseOptions(storedHash);
      } catch {
        return true;
      }
      return (
        parsed.algorithm !== ARGON2ID ||
        parsed.memoryCost < current.memoryCost ||
        parsed.timeCost < current.timeCost ||
        parsed.parallelism < current.parallelism
      );
    },
  };
}

/** Stable codes of the password rules; clients may rely on them. */
export type PasswordProblemCode = 'too_short' | 'too_long' | 'common' | 'contains_username' | 'contains_email';

/** One broken rule, with a message that is safe to show and never repeats the password. */
export interface PasswordProblem {
  code: PasswordProblemCode;
  message: string;
}

/** What the policy knows about the account, to refuse passwords built from it. */
export interface PasswordContext {
  username?: string | undefined;
  email?: string | undefined;
}

/** The rules a new local password must meet (NIST SP 800-63B style: length and blocklist, no composition rules). */
export interface PasswordPolicy {
  /** Every rule the password breaks; an empty list means it is acceptable. */
  checkPassword(password: string, context?: PasswordContext): PasswordProblem[];
  /** Throws `password_rejected`, with the problems as `data`, unless the password is acceptable. */
  assertAcceptable(password: string, context?: PasswordContext): void;
}

const MESSAGES: Record<PasswordProblemCode, string> = {
  too_short: `A password needs at least ${PASSWORD_MIN_LENGTH} characters.`,
  too_long: `A password has at most ${PASSWORD_MAX_LENGTH} characters.`,
  common: 'This password is in a list of the most commonly used passwords.',
  contains_username: 'A password must not contain the user name.',
  contains_email: 'A password must not contain the email address.',
};

function problem(code: PasswordProblemCode): PasswordProblem {
  return { code, message: MESSAGES[code] };
}

/** Shorter names would forbid too much ("al" is in many passwords) and protect little. */
const MIN_IDENTIFIER_LENGTH = 3;

/**
 * The password policy. `commonPasswords` replaces the bundled list (tests, or an operator's own
 * list); the list is parsed here, once per policy, not when the module is imported.
 */
export function createPasswordPolicy(deps: { commonPasswords?: Iterable<string> } = {}): PasswordPolicy {
  const source = deps.commonPasswords ?? COMMON_PASSWORDS_TEXT.split('\n');
  const common = new Set<string>();
  for (const entry of source) {
    const folded = fold(entry.trim());
    if (folded !== '') common.add(folded);
  }

  const checkPassword = (password: string, context: PasswordContext = {}): PasswordProblem[] => {
    const normalized = normalizePassword(password);
    const length = codePoints(normalized);
    // Nothing else is computed over an oversized input.
    if (length > PASSWORD_MAX_LENGTH) return [problem('too_long')];
    const problems: PasswordProblem[] = [];
    if (length < PASSWORD_MIN_LENGTH) problems.push(problem('too_short'));
    const folded = fold(normalized);
    if (common.has(folded)) problems.push(problem('common'));
    const username = fold(normalizePassword(context.username ?? '').trim());
    if (codePoints(username) >= MIN_IDENTIFIER_LENGTH && folded.includes(username)) problems.push(problem('contains_username'));
    const localPart = fold(normalizePassword(context.email ?? '').trim()).replace(/@[^@]*$/, '');
    if (codePoints(localPart) >= MIN_IDENTIFIER_LENGTH && folded.includes(localPart)) problems.push(problem('contains_email'));
    return problems;
  };

  return {
    checkPassword,
    assertAcceptable(password, context) {
      const problems = checkPassword(password, context);
      if (problems.length > 0) {
        throw new AppError('password_rejected', { publicMessage: problems.map((p) => p.message).join(' '), data: problems });
      }
    },
  };
}

/**
 * NFKC, so that one password typed on two keyboards or systems (composed or decomposed accents,
 * full-width forms) is the same password for the policy and for the hash.
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

/**
 * The normalized password cut to {@link PASSWORD_MAX_LENGTH} code points, the input of every verification: an
 * oversized one is still verified (and then refused), so it costs what any other password costs.
 */
function boundedPassword(password: string): { bounded: string; tooLong: boolean } {
  const normalized = normalizePassword(password);
  let bounded = '';
  let count = 0;
  for (const char of normalized) {
    if (count === PASSWORD_MAX_LENGTH) return { bounded, tooLong: true };
    bounded += char;
    count++;
  }
  return { bounded, tooLong: false };
}

function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

function fold(text: string): string {
  return text.toLowerCase();
}
