// What the console's sections share: the administration API's shapes, a loader, and a form's message line.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, describeError } from '../../api.js';
import { t } from '../../i18n/index.js';

export interface AdminUser {
  id: string;
  username: string;
  displayName: string;
  email: string | null;
  kind: 'person' | 'service';
  roles: string[];
  mfaRequired: boolean;
  mfaEnrolled: boolean;
  disabled: boolean;
  lastLoginAt: string | null;
}

export interface AdminAsset {
  id: string;
  name: string;
  url: string;
  allowedHosts: string[];
  mfaRequired: boolean;
  credential: string | null;
}

export interface Group {
  id: string;
  name: string;
  description: string;
  roles: string[];
}

export interface Member {
  userId: string;
  username: string;
  source: string;
}

export interface TimeWindow {
  timeZone: string;
  days: number[];
  start: string;
  end: string;
}

export interface Grant {
  id: string;
  subjectKind: 'user' | 'group';
  subjectId: string;
  assetId: string;
  actions: string[];
  timeWindow: TimeWindow | null;
  maxConcurrent: number | null;
}

export interface VaultEntry {
  id: string;
  version: number;
  fields: string[];
  setBy: { kind: string; id: string; name: string | null };
  setAt: string;
  ageDays: number;
  maxAgeDays: number;
  stale: boolean;
}

export interface TokenInfo {
  id: string;
  name: string;
  scopes: string[];
  serviceAccount: { id: string; username: string } | null;
  onBehalfOf: { id: string; username: string } | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revoked: boolean;
}

export const ROLE_NAMES = ['admin', 'auditor', 'operator', 'agent'] as const;

/** A role, in words. */
export function roleLabel(role: string): string {
  switch (role) {
    case 'admin':
      return t('admin.roleAdmin');
    case 'auditor':
      return t('admin.roleAuditor');
    case 'operator':
      return t('admin.roleOperator');
    case 'agent':
      return t('admin.roleAgent');
    default:
      return role;
  }
}

/** What a section needs from the console: what to do when the web session is over. */
export interface SectionProps {
  onUnauthenticated: () => void;
}

/** Loads with `fetcher` now and on `reload()`; a 401 hands over to the console (back to sign-in). */
export function useLoad<T>(fetcher: () => Promise<T>, props: SectionProps): { data: T | null; error: unknown; reload: () => Promise<void> } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const latest = useRef({ fetcher, props });
  latest.current = { fetcher, props };
  const reload = useCallback(async () => {
    try {
      setData(await latest.current.fetcher());
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) latest.current.props.onUnauthenticated();
      else setError(e);
    }
  }, []);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, error, reload };
}

/** The API's refusal, with the fields it names (`details`: field and problem, never the value). */
export function ErrorMessage(props: { error: unknown; id?: string }) {
  if (props.error === null || props.error === undefined) return null;
  const problems = props.error instanceof ApiError && Array.isArray(props.error.details) ? (props.error.details as Array<{ field?: string; problem?: string }>) : [];
  return (
    <div class="error" role="alert" id={props.id}>
      <p>{describeError(props.error)}</p>
      {problems.length > 0 && (
        <ul>
          {problems.map((p, i) => (
            <li key={i}>{`${p.field ?? ''}: ${p.problem ?? ''}`}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** A user's name for a table: the display name, or the username. */
export function userName(users: readonly AdminUser[] | null, id: string): string {
  const user = users?.find((u) => u.id === id);
  return user ? user.displayName || user.username : id;
}
