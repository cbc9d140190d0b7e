import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, describeError, setCsrfToken, type SignInAnswer, type SignInOptions, type TotpStart } from '../api.js';
import { Shell } from '../app.js';
import { useSecondsLeft } from '../countdown.js';
import { useFocusOnMount, useTitle } from '../focus.js';
import { t, waitText } from '../i18n/index.js';
import { returnToParameter } from '../router.js';
import { TotpEnrolment } from '../totp-enrolment.js';

type Step = 'password' | 'mfa' | 'enrol';

interface Props {
  /** Shown above the form (e.g. "You have signed out."), in the language of the moment. */
  notice?: (() => string) | undefined;
  onSignedIn: () => void;
}

/** Sign in: a local account (password, then TOTP or a recovery code), or single sign-on when the server has it. */
export function SignIn(props: Props) {
  const [options, setOptions] = useState<SignInOptions | null>(null);
  const [step, setStep] = useState<Step>('password');
  // Messages are kept as functions: they are written again in the new language after a switch.
  const [message, setMessage] = useState<{ kind: 'error' | 'info'; text: () => string } | null>(props.notice ? { kind: 'info', text: props.notice } : null);
  const [blockedUntil, setBlockedUntil] = useState<number | null>(null);
  const secondsLeft = useSecondsLeft(blockedUntil);
  useTitle(t('signIn.title'));

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
      setMessage({ kind: 'error', text: () => t('signIn.tooMany') });
      return;
    }
    if (error instanceof ApiError && error.code === 'invalid_credentials') {
      const lock = options?.lockout;
      const wrong = step === 'mfa' ? 'signIn.wrongCode' : 'signIn.wrongPassword';
      setMessage({
        kind: 'error',
        text: () => (lock ? `${t(wrong)} ${t('signIn.lockoutPolicy', { threshold: lock.threshold, wait: waitText(lock.minutes * 60) })}` : t(wrong)),
      });
      return;
    }
    if (error instanceof ApiError && error.code === 'login_expired') {
      setStep('password');
      setMessage({ kind: 'error', text: () => t('signIn.expired') });
      return;
    }
    setMessage({ kind: 'error', text: () => describeError(error) });
  };

  const done = (answer: SignInAnswer) => {
    setCsrfToken(answer.csrfToken);
    props.onSignedIn();
  };

  const blocked = secondsLeft > 0;
  return (
    <Shell>
      <h1>{t('signIn.title')}</h1>
      {message && (
        <p class={message.kind === 'error' ? 'error' : 'notice'} role={message.kind === 'error' ? 'alert' : 'status'} id="sign-in-message">
          {message.text()}
          {blocked && ` ${t('signIn.tryAgainIn', { wait: waitText(secondsLeft) })}`}
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
              setMessage({ kind: 'info', text: () => t('signIn.mustEnrol') });
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
        <form onSubmit={(e) => void submit(e)} aria-label={t('signIn.formLabel')}>
          <label for="username">{t('signIn.username')}</label>
          <input ref={first} id="username" name="username" autoComplete="username" autoCapitalize="off" spellcheck={false} required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
          <label for="password">{t('signIn.password')}</label>
          <input id="password" name="password" type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          <button type="submit" disabled={busy || props.blocked}>{busy ? t('signIn.submitting') : t('signIn.submit')}</button>
        </form>
      )}
      {props.options?.sso && (
        <>
          {local && <p class="or">{t('signIn.or')}</p>}
          <a class="button secondary" id="sso" href={`/auth/oidc/login?returnTo=${encodeURIComponent(returnToParameter() ?? '/')}`}>
            {t('signIn.sso')}
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
    <form onSubmit={(e) => void submit(e)} aria-label={t('mfa.formLabel')}>
      {/* Two distinct inputs (keys): reusing one would keep the TOTP field's pattern as an empty one, which refuses every recovery code. */}
      {recovery ? (
        <>
          <label for="mfa-code">{t('mfa.recoveryCode')}</label>
          <input ref={field} key="recovery" id="mfa-code" name="recoveryCode" autoComplete="off" autoCapitalize="characters" spellcheck={false} required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
        </>
      ) : (
        <>
          <label for="mfa-code">{t('mfa.appCode')}</label>
          <input ref={field} key="totp" id="mfa-code" name="code" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9 ]{6,8}" required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
        </>
      )}
      <button type="submit" disabled={busy || props.blocked}>{busy ? t('mfa.checking') : t('mfa.continue')}</button>
      <div class="links">
        <button type="button" class="link" onClick={() => { setRecovery(!recovery); setCode(''); }}>
          {recovery ? t('mfa.useApp') : t('mfa.useRecovery')}
        </button>
        <button type="button" class="link" onClick={props.onCancel}>{t('mfa.startAgain')}</button>
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
