// A signed-in page's data, read now and again on a timer: what the launcher and My sessions share.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';
import type { SignedInProps } from './frame.js';
import { t } from './i18n/index.js';

/**
 * Runs `read` now and every `everyMs`, and on `reload()`. Its refusal stays in `error` until a read
 * goes through; a 401 hands over to sign-in ("your session is over").
 */
export function usePolledLoad(read: () => Promise<void>, everyMs: number, onSignedOut: SignedInProps['onSignedOut']): { error: unknown; reload: () => Promise<void> } {
  const [error, setError] = useState<unknown>(null);
  const latest = useRef({ read, onSignedOut });
  latest.current = { read, onSignedOut };
  const reload = useCallback(async () => {
    try {
      await latest.current.read();
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) latest.current.onSignedOut(() => t('app.sessionOver'));
      else setError(e);
    }
  }, []);
  useEffect(() => {
    void reload();
    const timer = window.setInterval(() => void reload(), everyMs);
    return () => window.clearInterval(timer);
  }, [reload, everyMs]);
  return { error, reload };
}
