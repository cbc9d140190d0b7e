import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, describeError, type EnrolmentState, type TotpStart } from '../api.js';
import { Shell } from '../app.js';
import { usePageHeading, useTitle } from '../focus.js';
import { dateTimeText, hasMessage, t } from '../i18n/index.js';
import { navigate } from '../router.js';
import { TotpEnrolment } from '../totp-enrolment.js';

/** The link's token, read once; the address bar then drops it (it stays out of history and bookmarks). */
function takeToken(): string | null {
  const token = new URLSearchParams(window.location.search).get('token');
  if (token) window.history.replaceState(null, '', '/enrol');
  return token;
}

let linkToken: string | null | undefined;

/** The one-time enrolment link (`/enrol?token=...`, printed by `webasset users create`): first password, then TOTP. */
export function Enrol() {
  const [token] = useState(() => (linkToken ??= takeToken()));
  const [state, setState] = useState<EnrolmentState | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [finished, setFinished] = useState(false);
  const heading = usePageHeading();
  useTitle(t('enrol.title'));

  useEffect(() => {
    if (!token) {
      setError('no-link');
      return;
    }
    api<EnrolmentState>('GET', `/api/auth/enrolment/${encodeURIComponent(token)}`).then(setState, (e: unknown) => setError(e ?? new Error('failed')));
  }, [token]);

  const base = `/api/auth/enrolment/${encodeURIComponent(token ?? '')}`;
  const finish = () => {
    linkToken = null;
    setFinished(true);
  };

  return (
    <Shell>
      <h1 ref={heading} tabIndex={-1}>{t('enrol.title')}</h1>
      {error !== null && <p class="error" role="alert">{error === 'no-link' ? t('enrol.needLink') : describeError(error)}</p>}
      {finished || state?.done ? (
        <section>
          <p class="notice" role="status" id="enrolment-done">{t('enrol.ready')}</p>
          <button type="button" onClick={() => navigate('/sign-in')}>{t('enrol.goSignIn')}</button>
        </section>
      ) : (
        state && (
          <>
            <p>
              {t('enrol.account')} <strong id="enrol-username">{state.username}</strong>
              {state.displayName && state.displayName !== state.username ? ` (${state.displayName})` : ''}.
              {state.expiresAt && ` ${t('enrol.validUntil', { date: dateTimeText(state.expiresAt) })}`}
            </p>
            {state.passwordStep ? (
              <PasswordForm
                username={state.username ?? ''}
                submit={async (password) => {
                  const next = await api<EnrolmentState>('POST', `${base}/password`, { password });
                  if (next.done) finish();
                  else setState({ ...state, ...next });
                }}
              />
            ) : state.totpStep ? (
              <TotpEnrolment
                start={() => api<TotpStart>('POST', `${base}/totp/start`)}
                confirm={async (code) => (await api<{ recoveryCodes: string[] }>('POST', `${base}/totp/confirm`, { code })).recoveryCodes}
                onDone={finish}
              />
            ) : null}
          </>
        )
      )}
    </Shell>
  );
}

function PasswordForm(props: { username: string; submit: (password: string) => Promise<void> }) {
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [busy, setBusy] = useState(false);
  // Kept as functions: the list is written again in the new language after a switch.
  const [problems, setProblems] = useState<Array<() => string>>([]);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (password !== repeat) {
      setProblems([() => t('enrol.differ')]);
      return;
    }
    setBusy(true);
    setProblems([]);
    try {
      await props.submit(password);
    } catch (error) {
      setProblems(passwordProblems(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} aria-labelledby="password-title">
      <h2 id="password-title">{t('enrol.passwordTitle')}</h2>
      <p class="muted" id="password-hint">{t('enrol.passwordHint')}</p>
      {/* For password managers: which account this new password belongs to. */}
      <input type="text" name="username" autoComplete="username" value={props.username} readOnly hidden />
      <label for="new-password">{t('enrol.newPassword')}</label>
      <input id="new-password" aria-describedby="password-hint" type="password" autoComplete="new-password" minLength={12} required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
      <label for="repeat-password">{t('enrol.repeat')}</label>
      <input id="repeat-password" type="password" autoComplete="new-password" required value={repeat} onInput={(e) => setRepeat(e.currentTarget.value)} />
      <button type="submit" disabled={busy}>{busy ? t('enrol.saving') : t('enrol.save')}</button>
      {problems.length > 0 && (
        <ul class="error" role="alert">
          {problems.map((p, i) => (
            <li key={i}>{p()}</li>
          ))}
        </ul>
      )}
    </form>
  );
}

/**
 * `password_rejected` lists the broken rules in `details` (`{ code, message }`): each in the
 * catalogue's words for its code, or the server's message for a rule the UI does not know yet;
 * anything else is one message.
 */
function passwordProblems(error: unknown): Array<() => string> {
  if (error instanceof ApiError && error.code === 'password_rejected' && Array.isArray(error.details)) {
    const lines = error.details.map((d: unknown): (() => string) | null => {
      if (typeof d === 'string') return () => d;
      if (typeof d !== 'object' || d === null) return null;
      const code = 'code' in d ? `password.${String(d.code)}` : '';
      const text = 'message' in d ? String(d.message) : '';
      if (hasMessage(code)) return () => t(code);
      return text === '' ? null : () => text;
    });
    const shown = lines.filter((l) => l !== null);
    if (shown.length > 0) return shown;
  }
  return [() => describeError(error)];
}
