// When a closed live view socket is opened again, and how soon.

/**
 * Close codes after which opening the socket again cannot help: the session ended (4410), is not
 * there or not the caller's (4404), the caller's access to it was withdrawn (4403), the caller is
 * signed out (4401; the cookie is dead), it has as many viewers as it may (4429), or this page sent
 * nonsense (4400). Any other close (a dropped network, 1006; a server going away, 1001; unavailable,
 * 4503) is tried again: the session lives on the server whether a viewer is connected or not.
 */
export const TERMINAL_CLOSE_CODES: ReadonlySet<number> = new Set([4410, 4404, 4403, 4401, 4429, 4400]);

export function isTerminalClose(code: number): boolean {
  return TERMINAL_CLOSE_CODES.has(code);
}

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;

/** The wait before attempt `attempt` (0, 1, 2, ...): doubling from 0.5 s up to 10 s, the second half random so that many viewers do not come back at once. */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
