import { randomBytes } from 'node:crypto';

/** What the portal remembers of one browser: where it is in a login, and its account once signed in. */
export interface PortalSession {
  id: string;
  /** Set after the password step of the TOTP and two-page variants. */
  pending?: { stage: 'totp' | 'password'; username: string } | undefined;
  /** Signed in as this user. */
  user?: string | undefined;
  balanceCents: number;
  /** Per-session token for the transfer and logout forms (a portal worth copying has one). */
  csrf: string;
}

export const COOKIE_NAME = 'demo_bank_session';
export const OPENING_BALANCE_CENTS = 1_234_567;

/** In-memory sessions of one portal instance; nothing survives a restart, which suits a demo. */
export function createPortalSessions() {
  const sessions = new Map<string, PortalSession>();
  return {
    fromCookie(header: string | undefined): PortalSession | undefined {
      const match = /(?:^|;\s*)demo_bank_session=([A-Za-z0-9_-]{20,64})/.exec(header ?? '');
      return match ? sessions.get(match[1]!) : undefined;
    },
    create(): PortalSession {
      const session: PortalSession = { id: token(), balanceCents: OPENING_BALANCE_CENTS, csrf: token() };
      sessions.set(session.id, session);
      return session;
    },
    delete(id: string): void {
      sessions.delete(id);
    },
  };
}

export function sessionCookie(id: string): string {
  return `${COOKIE_NAME}=${id}; Path=/; HttpOnly; SameSite=Lax`;
}

export const clearedCookie = `${COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`;

function token(): string {
  return randomBytes(24).toString('base64url');
}
