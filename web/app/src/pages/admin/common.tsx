// What the console's sections share: the administration API's shapes, a loader, an action's busy/refusal state, a set of checkboxes.
import type { ComponentChildren, Ref } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../../api.js';
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
  /** The login recipe and checks (docs/login-recipes.md): JSON objects as stored, or null for the automatic recipe and default checks. */
  loginRecipe?: unknown;
  successCheck?: unknown;
  failureCheck?: unknown;
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

/** A user's name for a table: the display name, or the username. */
export function userName(users: readonly AdminUser[] | null, id: string): string {
  const user = users?.find((u) => u.id === id);
  return user ? user.displayName || user.username : id;
}

/** Runs `action`, keeping its refusal for the form; true when it went through. */
export function useAction() {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = async (action: () => Promise<unknown>): Promise<boolean> => {
    setBusy(true);
    try {
      await action();
      setError(null);
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, run };
}

/** A set of checkboxes under a legend: `chosen` are the options ticked; `onChange` gets an update of that list. */
export function CheckboxSet<T extends string>(props: {
  legend: string;
  options: readonly T[];
  chosen: readonly T[];
  onChange: (update: (chosen: T[]) => T[]) => void;
  label: (option: T) => ComponentChildren;
  firstRef?: Ref<HTMLInputElement>;
}) {
  return (
    <fieldset class="checks">
      <legend>{props.legend}</legend>
      {props.options.map((option, i) => (
        <label key={option} class="check">
          <input ref={i === 0 ? props.firstRef : undefined} type="checkbox" checked={props.chosen.includes(option)} onChange={(e) => props.onChange((all) => (e.currentTarget.checked ? [...all, option] : all.filter((x) => x !== option)))} />
          {props.label(option)}
        </label>
      ))}
    </fieldset>
  );
}
