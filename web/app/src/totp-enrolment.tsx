import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError, type TotpStart } from './api.js';
import { t } from './i18n/index.js';

interface Props {
  /** Asks the server for a new seed (shown this once). */
  start: () => Promise<TotpStart>;
  /** Confirms a code from the app; resolves with the recovery codes. */
  confirm: (code: string) => Promise<string[]>;
  /** The person has seen the recovery codes. */
  onDone: () => void;
}

/** TOTP enrolment: the QR code, the secret as text for manual entry, a code to confirm, then the recovery codes, once. */
export function TotpEnrolment(props: Props) {
  const [seed, setSeed] = useState<TotpStart | null>(null);
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [recoveryCodes, setRecoveryCodes] = useState<string[] | null>(null);
  const codeField = useRef<HTMLInputElement>(null);
  useEffect(() => codeField.current?.focus(), [seed]);

  useEffect(() => {
    props.start().then(setSeed, (e: unknown) => setError(e ?? new Error('failed')));
  }, []);

  if (recoveryCodes) return <RecoveryCodes codes={recoveryCodes} onDone={props.onDone} />;

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setRecoveryCodes(await props.confirm(code.replace(/\s+/g, '')));
    } catch (e) {
      setError(e ?? new Error('failed'));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="totp-title">
      <h2 id="totp-title">{t('totp.title')}</h2>
      {!seed && error === null && <p class="muted" role="status">{t('totp.preparing')}</p>}
      {seed && (
        <>
          <p>{t('totp.scan')}</p>
          <img class="qr" src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(seed.qrSvg)}`} alt={t('totp.qrAlt')} width={200} height={200} />
          <p id="totp-manual">{t('totp.manual')}</p>
          <code class="secret" id="totp-secret" data-secret={seed.secret} aria-describedby="totp-manual">
            {seed.secret.replace(/(.{4})/g, '$1 ').trim()}
          </code>
          <form onSubmit={(e) => void submit(e)}>
            <label for="totp-code">{t('totp.code')}</label>
            <input ref={codeField} id="totp-code" name="code" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9 ]{6,8}" required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
            <button type="submit" disabled={busy}>{busy ? t('totp.checking') : t('totp.confirm')}</button>
          </form>
        </>
      )}
      {error !== null && <p class="error" role="alert">{describeError(error)}</p>}
    </section>
  );
}

/** The recovery codes, shown once: the person confirms they have kept them. */
export function RecoveryCodes(props: { codes: string[]; onDone: () => void }) {
  return (
    <section aria-labelledby="recovery-title">
      <h2 id="recovery-title">{t('recovery.title')}</h2>
      <p>
        {t('recovery.intro')} <strong>{t('recovery.once')}</strong> {t('recovery.keep')}
      </p>
      <ol class="recovery-codes" id="recovery-codes">
        {props.codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <button type="button" onClick={props.onDone}>{t('recovery.done')}</button>
    </section>
  );
}
