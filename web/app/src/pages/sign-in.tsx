import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, describeError, formatWait, setCsrfToken, type SignInAnswer, type SignInOptions, type TotpStart } from '../api.js';
import { Shell } from '../app.js';
import { useSecondsLeft } from '../countdown.js';
import { useFocusOnMount } from '../focus.js';
import { returnToParameter } from '../router.js';
import { TotpEnrolment } from '../totp-enrolment.js';

type Step = 'password' | 'mfa' | 'enrol';

interface Props {
  /** Shown above the form (e.g. "You have signed out."). */
  notice?: string | undefined;
  onSignedIn: () => void;
}

/** Sign in: a local account (password, then TOTP or a recovery code), or single sign-on when the server has it. */
export function SignIn(props: Props) {
  const [options, setOptions] = useState<SignInOptions | null>(null);
  const [step, setStep] = useState<Step>('password');
  const [message, setMessage] = useState<{ kind: 'error' | 'info'; text: string } | null>(props.notice ? { kind: 'info', text: props.notice } : null);
  const [blockedUntil, setBlockedUntil] = useState<number | null>(null);
  const secondsLeft = useSecondsLeft(blockedUntil);

  useEffect(() => {
    api<SignInOptions>('GET', '/api/auth/options').then(setOptions, () => setOptions({ localAccounts: true, sso: false, lockout: null }));
  }, []);
  useEffect(() => {
    if (blockedUntil !== null && secondsLeft === 0) {
      setBlockedUntil(null);
      setMessage(null);
    }
  }, [blockedUntil, secondsLeft]);

  /** Turns a refusal into a message that says what to do, and how long to wait when there is a limit. */
  const refused = (error: unknown) => {
    if (error instanceof ApiError && error.code === 'rate_limited') {
      const wait = error.retryAfterSeconds ?? 60;
      setBlockedUntil(Date.now() + wait * 1000);
      setMessage({ kind: 'error', text: 'Too many sign-in attempts from this address.' });
      return;
    }
    if (error instanceof ApiError && error.code === 'invalid_credentials') {
      const lock = options?.lockout;
      const policy = lock
        ? ` After ${lock.threshold} failed attempts an account is locked for ${formatWait(lock.minutes * 60)}; if that happened, wait, or ask an administrator to unlock it.`
        : '';
      setMessage({ kind: 'error', text: `${step === 'mfa' ? 'The code is wrong or was already used.' : 'The username or password is wrong, or the account cannot sign in right now.'}${policy}` });
      return;
    }
    if (error instanceof ApiError && error.code === 'login_expired') {
      setStep('password');
      setMessage({ kind: 'error', text: 'The sign-in step expired or had too many wrong codes. Sign in again.' });
      return;
    }
    setMessage({ kind: 'error', text: describeError(error) });
  };

  const done = (answer: SignInAnswer) => {
    setCsrfToken(answer.csrfToken);
    props.onSignedIn();
  };

  const blocked = secondsLeft > 0;
  return (
    <Shell>
      <h1>Sign in</h1>
      {message && (
        <p class={message.kind === 'error' ? 'error' : 'notice'} role={message.kind === 'error' ? 'alert' : 'status'} id="sign-in-message">
          {message.text}
          {blocked && ` Try again in ${formatWait(secondsLeft)}.`}
        </p>
      )}
      {step === 'password' && (
        <PasswordStep
          options={options}
          blocked={blocked}
          onAnswer={(answer) => {
            setMessage(null);
            if (answer.signedIn) done(answer);
            else setStep('mfa');
          }}
          onError={(error) => {
            if (error instanceof ApiError && error.code === 'mfa_enrolment_required') {
              setMessage({ kind: 'info', text: 'Your account must use a second factor. Set it up now to finish signing in.' });
              setStep('enrol');
            } else refused(error);
          }}
        />
      )}
      {step === 'mfa' && (
        <MfaStep
          blocked={blocked}
          onAnswer={(answer) => done(answer)}
          onError={refused}
          onCancel={() => {
            setMessage(null);
            setStep('password');
          }}
        />
      )}
      {step === 'enrol' && <EnrolAtSignIn onDone={done} />}
    </Shell>
  );
}

function PasswordStep(props: { options: SignInOptions | null; blocked: boolean; onAnswer: (answer: SignInAnswer) => void; onError: (error: unknown) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const local = props.options?.localAccounts ?? true;
  const first = useFocusOnMount<HTMLInputElement>();

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      props.onAnswer(await api<SignInAnswer>('POST', '/api/auth/login', { username: username.trim(), password }));
    } catch (error) {
      setPassword('');
      props.onError(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      {local && (
        <form onSubmit={(e) => void submit(e)} aria-label="Sign in with your account">
          <label for="username">Username</label>
          <input ref={first} id="username" name="username" autoComplete="username" autoCapitalize="off" spellcheck={false} required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
          <label for="password">Password</label>
          <input id="password" name="password" type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          <button type="submit" disabled={busy || props.blocked}>{busy ? 'Signing in…' : 'Sign in'}</button>
        </form>
      )}
      {props.options?.sso && (
        <>
          {local && <p class="or">or</p>}
          <a class="button secondary" id="sso" href={`/auth/oidc/login?returnTo=${encodeURIComponent(returnToParameter() ?? '/')}`}>
            Sign in with SSO
          </a>
        </>
      )}
    </>
  );
}

function MfaStep(props: { blocked: boolean; onAnswer: (answer: SignInAnswer) => void; onError: (error: unknown) => void; onCancel: () => void }) {
  const [recovery, setRecovery] = useState(false);
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const field = useRef<HTMLInputElement>(null);
  // The code field takes the focus when the step appears and when it switches between app and recovery code.
  useEffect(() => field.current?.focus(), [recovery]);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      const body = recovery ? { recoveryCode: code.trim() } : { code: code.replace(/\s+/g, '') };
      props.onAnswer(await api<SignInAnswer>('POST', '/api/auth/login/mfa', body));
    } catch (error) {
      setCode('');
      props.onError(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} aria-label="Second factor">
      {/* Two distinct inputs (keys): reusing one would keep the TOTP field's pattern as an empty one, which refuses every recovery code. */}
      {recovery ? (
        <>
          <label for="mfa-code">Recovery code</label>
          <input ref={field} key="recovery" id="mfa-code" name="recoveryCode" autoComplete="off" autoCapitalize="characters" spellcheck={false} required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
        </>
      ) : (
        <>
          <label for="mfa-code">Code from your authenticator app</label>
          <input ref={field} key="totp" id="mfa-code" name="code" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9 ]{6,8}" required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
        </>
      )}
      <button type="submit" disabled={busy || props.blocked}>{busy ? 'Checking…' : 'Continue'}</button>
      <div class="links">
        <button type="button" class="link" onClick={() => { setRecovery(!recovery); setCode(''); }}>
          {recovery ? 'Use the authenticator app instead' : 'Use a recovery code instead'}
        </button>
        <button type="button" class="link" onClick={props.onCancel}>Start again</button>
      </div>
    </form>
  );
}

/** An account that must use MFA and has none enrols at sign-in (the sign-in cookie allows only this). */
function EnrolAtSignIn(props: { onDone: (answer: SignInAnswer) => void }) {
  const [answer, setAnswer] = useState<SignInAnswer | null>(null);
  return (
    <TotpEnrolment
      start={() => api<TotpStart>('POST', '/api/auth/login/enrol/totp/start')}
      confirm={async (code) => {
        const signedIn = await api<SignInAnswer>('POST', '/api/auth/login/enrol/totp/confirm', { code });
        setAnswer(signedIn);
        return signedIn.recoveryCodes ?? [];
      }}
      onDone={() => answer && props.onDone(answer)}
    />
  );
}
