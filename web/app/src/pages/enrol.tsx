import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, describeError, type EnrolmentState, type TotpStart } from '../api.js';
import { Shell } from '../app.js';
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
  const [error, setError] = useState<string | null>(null);
  const [finished, setFinished] = useState(false);

  useEffect(() => {
    if (!token) {
      setError('This page needs the link you were sent; open the whole link.');
      return;
    }
    api<EnrolmentState>('GET', `/api/auth/enrolment/${encodeURIComponent(token)}`).then(setState, (e: unknown) => setError(describeError(e)));
  }, [token]);

  const base = `/api/auth/enrolment/${encodeURIComponent(token ?? '')}`;
  const finish = () => {
    linkToken = null;
    setFinished(true);
  };

  return (
    <Shell>
      <h1>Set up your account</h1>
      {error && <p class="error" role="alert">{error}</p>}
      {finished || state?.done ? (
        <section>
          <p class="notice" role="status" id="enrolment-done">Your account is ready.</p>
          <button type="button" onClick={() => navigate('/sign-in')}>Go to sign in</button>
        </section>
      ) : (
        state && (
          <>
            <p>
              Account <strong id="enrol-username">{state.username}</strong>
              {state.displayName && state.displayName !== state.username ? ` (${state.displayName})` : ''}.
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
  const [problems, setProblems] = useState<string[]>([]);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (password !== repeat) {
      setProblems(['The two passwords differ.']);
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
    <form onSubmit={(e) => void submit(e)} aria-label="Choose a password">
      <h2>Choose a password</h2>
      <p class="muted">At least 12 characters, not a common password.</p>
      {/* For password managers: which account this new password belongs to. */}
      <input type="text" name="username" autoComplete="username" value={props.username} readOnly hidden />
      <label for="new-password">New password</label>
      <input id="new-password" type="password" autoComplete="new-password" minLength={12} required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
      <label for="repeat-password">Repeat it</label>
      <input id="repeat-password" type="password" autoComplete="new-password" required value={repeat} onInput={(e) => setRepeat(e.currentTarget.value)} />
      <button type="submit" disabled={busy}>{busy ? 'Saving…' : 'Save password'}</button>
      {problems.length > 0 && (
        <ul class="error" role="alert">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
    </form>
  );
}

/** `password_rejected` lists the broken rules in `details`; anything else is one message. */
function passwordProblems(error: unknown): string[] {
  if (error instanceof ApiError && error.code === 'password_rejected' && Array.isArray(error.details)) {
    const lines = error.details.map((d: unknown) => (typeof d === 'string' ? d : typeof d === 'object' && d && 'message' in d ? String(d.message) : ''));
    const shown = lines.filter((l) => l !== '');
    if (shown.length > 0) return shown;
  }
  return [describeError(error)];
}
