import { useState } from 'preact/hooks';
import { api } from '../../api.js';
import { dateTimeText, t } from '../../i18n/index.js';
import { ConfirmPanel, ErrorMessage, Field, OneTimeValue } from '../../ui.js';
import { CheckboxSet, useAction, useLoad, type AdminUser, type SectionProps, type TokenInfo } from './common.js';
import { DataTable } from '../../data-table.js';

const SCOPES = ['mcp', 'api:read', 'api:write'] as const;

/** Agent tokens of service accounts: create one (its value shown here once, never again), list, revoke. */
export function TokensSection(props: SectionProps) {
  const tokens = useLoad(() => api<{ tokens: TokenInfo[] }>('GET', '/api/admin/tokens').then((r) => r.tokens), props);
  const users = useLoad(() => api<{ users: AdminUser[] }>('GET', '/api/admin/users').then((r) => r.users), props);
  // The new token's value lives in this state only, until "Done"; it is never written anywhere else.
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [revoking, setRevoking] = useState<string | null>(null);

  const services = (users.data ?? []).filter((u) => u.kind === 'service' && !u.disabled);
  const people = (users.data ?? []).filter((u) => u.kind === 'person' && !u.disabled);
  const now = Date.now();

  return (
    <>
      <p class="muted">{t('admin.tokensIntro')}</p>
      {created ? (
        <OneTimeValue id="new-token" valueId="token-value" title={t('admin.tokenCreatedTitle')} value={created.token} copyId="copy-token" doneId="token-done" doneLabel={t('admin.tokenSaved')} onDone={() => setCreated(null)}>
          <p>
            <strong>{t('admin.tokenOnce', { name: created.name })}</strong>
          </p>
        </OneTimeValue>
      ) : (
        <CreateTokenForm
          services={services}
          people={people}
          onCreated={async (name, token) => {
            setCreated({ name, token });
            await tokens.reload();
          }}
        />
      )}
      <ErrorMessage error={tokens.error ?? users.error} />
      {tokens.data && tokens.data.length === 0 && <p class="muted">{t('admin.noTokens')}</p>}
      {tokens.data && tokens.data.length > 0 && (
        <DataTable id="tokens" caption={t('admin.tokensCaption')} columns={[t('admin.tokenName'), t('admin.serviceAccount'), t('admin.scopes'), t('admin.expires'), t('admin.lastUsed'), t('admin.accountState'), t('sessions.actions')]}>
          {tokens.data.map((token) => {
            const expired = token.expiresAt !== null && Date.parse(token.expiresAt) <= now;
            return (
              <tr key={token.id} data-token={token.name}>
                <th scope="row">{token.name}</th>
                <td>
                  {token.serviceAccount?.username ?? '—'}
                  {token.onBehalfOf && <span class="sub">{t('admin.onBehalfOfName', { name: token.onBehalfOf.username })}</span>}
                </td>
                <td>{token.scopes.join(', ')}</td>
                <td>{token.expiresAt ? <time dateTime={token.expiresAt}>{dateTimeText(token.expiresAt)}</time> : t('admin.never')}</td>
                <td>{token.lastUsedAt ? <time dateTime={token.lastUsedAt}>{dateTimeText(token.lastUsedAt)}</time> : <span class="muted">{t('admin.never')}</span>}</td>
                <td>
                  <span class={`pill ${token.revoked || expired ? 'off' : 'active'}`}>{token.revoked ? t('admin.revoked') : expired ? t('admin.expired') : t('admin.valid')}</span>
                </td>
                <td>
                  {!token.revoked && (
                    <button type="button" class="small danger" onClick={() => setRevoking(token.id)} aria-label={t('admin.revokeToken', { name: token.name })}>
                      {t('admin.revoke')}
                    </button>
                  )}
                  {revoking === token.id && (
                    <ConfirmPanel
                      id={`revoke-${token.id}`}
                      message={t('admin.revokeConfirm', { name: token.name })}
                      confirmLabel={t('admin.revoke')}
                      onCancel={() => setRevoking(null)}
                      onConfirm={async () => {
                        await api('DELETE', `/api/admin/tokens/${token.id}`);
                        setRevoking(null);
                        await tokens.reload();
                      }}
                    />
                  )}
                </td>
              </tr>
            );
          })}
        </DataTable>
      )}
    </>
  );
}

function CreateTokenForm(props: { services: AdminUser[]; people: AdminUser[]; onCreated: (name: string, token: string) => Promise<void> }) {
  const [name, setName] = useState('');
  const [serviceAccountId, setServiceAccountId] = useState('');
  const [scopes, setScopes] = useState<Array<(typeof SCOPES)[number]>>(['mcp']);
  const [days, setDays] = useState('90');
  const [onBehalfOfId, setOnBehalfOfId] = useState('');
  const { error, busy, run } = useAction();

  const submit = async (event: Event) => {
    event.preventDefault();
    await run(async () => {
      const body = { name: name.trim(), serviceAccountId, scopes, expiresInDays: Number(days), ...(onBehalfOfId ? { onBehalfOfId } : {}) };
      const answer = await api<{ token: string; info: TokenInfo }>('POST', '/api/admin/tokens', body);
      setName('');
      await props.onCreated(answer.info.name, answer.token);
    });
  };

  return (
    <details class="panel form-panel">
      <summary>{t('admin.createToken')}</summary>
      {props.services.length === 0 && <p class="muted">{t('admin.noServiceAccounts')}</p>}
      <form onSubmit={(e) => void submit(e)} id="token-form">
        <div class="filter-grid">
          <Field id="token-name" label={t('admin.tokenName')}>
            <input id="token-name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <Field id="token-service" label={t('admin.serviceAccount')}>
            <select id="token-service" required value={serviceAccountId} onInput={(e) => setServiceAccountId(e.currentTarget.value)}>
              <option value="">{t('admin.choose')}</option>
              {props.services.map((u) => (
                <option key={u.id} value={u.id}>{u.username}</option>
              ))}
            </select>
          </Field>
          <Field id="token-days" label={t('admin.expiresInDays')}>
            <input id="token-days" type="number" min={1} max={365} required value={days} onInput={(e) => setDays(e.currentTarget.value)} />
          </Field>
          <Field id="token-behalf" label={t('admin.onBehalfOf')} hint={t('admin.onBehalfOfHint')}>
            <select id="token-behalf" value={onBehalfOfId} onInput={(e) => setOnBehalfOfId(e.currentTarget.value)} aria-describedby="token-behalf-hint">
              <option value="">{t('admin.nobody')}</option>
              {props.people.map((u) => (
                <option key={u.id} value={u.id}>{u.username}</option>
              ))}
            </select>
          </Field>
        </div>
        <CheckboxSet legend={t('admin.scopes')} options={SCOPES} chosen={scopes} onChange={setScopes} label={(scope) => <code>{scope}</code>} />
        <ErrorMessage error={error} />
        <div class="actions">
          <button type="submit" disabled={busy || scopes.length === 0}>{t('admin.createToken')}</button>
        </div>
      </form>
    </details>
  );
}
