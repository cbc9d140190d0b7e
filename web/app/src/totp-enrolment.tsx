import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError, type TotpStart } from './api.js';

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
  const [error, setError] = useState<string | null>(null);
  const [recoveryCodes, setRecoveryCodes] = useState<string[] | null>(null);
  const codeField = useRef<HTMLInputElement>(null);
  useEffect(() => codeField.current?.focus(), [seed]);

  useEffect(() => {
    props.start().then(setSeed, (e: unknown) => setError(describeError(e)));
  }, []);

  if (recoveryCodes) return <RecoveryCodes codes={recoveryCodes} onDone={props.onDone} />;

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setRecoveryCodes(await props.confirm(code.replace(/\s+/g, '')));
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="totp-title">
      <h2 id="totp-title">Set up your authenticator app</h2>
      {!seed && !error && <p class="muted" role="status">Preparing a new secret…</p>}
      {seed && (
        <>
          <p>Scan this code with an authenticator app (such as Google Authenticator, Microsoft Authenticator or FreeOTP).</p>
          <img class="qr" src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(seed.qrSvg)}`} alt="QR code of your new authenticator secret" width={200} height={200} />
          <p>Or enter this secret by hand (time-based, 6 digits, 30 seconds):</p>
          <code class="secret" id="totp-secret" data-secret={seed.secret}>
            {seed.secret.replace(/(.{4})/g, '$1 ').trim()}
          </code>
          <form onSubmit={(e) => void submit(e)}>
            <label for="totp-code">Code shown by the app</label>
            <input ref={codeField} id="totp-code" name="code" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9 ]{6,8}" required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
            <button type="submit" disabled={busy}>{busy ? 'Checking…' : 'Confirm'}</button>
          </form>
        </>
      )}
      {error && <p class="error" role="alert">{error}</p>}
    </section>
  );
}

/** The recovery codes, shown once: the person confirms they have kept them. */
export function RecoveryCodes(props: { codes: string[]; onDone: () => void }) {
  return (
    <section aria-labelledby="recovery-title">
      <h2 id="recovery-title">Your recovery codes</h2>
      <p>
        Each code signs you in once if you lose your authenticator. <strong>They are shown only now:</strong> print them or keep them in a password manager.
      </p>
      <ol class="recovery-codes" id="recovery-codes">
        {props.codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <button type="button" onClick={props.onDone}>I have saved my recovery codes</button>
    </section>
  );
}
