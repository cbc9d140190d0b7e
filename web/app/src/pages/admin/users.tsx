import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../api.js';
import { dateTimeText, t } from '../../i18n/index.js';
import { ConfirmPanel, ErrorMessage, Field, OneTimeValue } from '../../ui.js';
import { CheckboxSet, ROLE_NAMES, roleLabel, useAction, useLoad, type AdminUser, type SectionProps } from './common.js';
import { DataTable } from '../../data-table.js';

type Pending = { userId: string; action: 'disable' | 'reset-mfa' | 'end-sessions' | 'roles' };

/** A one-time enrolment link, shown where it was made; the database keeps only its hash. */
interface Link {
  username: string;
  url: string;
  expiresAt: string;
}

/** Accounts: list, invite (create + the enrolment link), disable with a reason, enable, reset MFA, end all sessions. */
export function UsersSection(props: SectionProps) {
  const users = useLoad(() => api<{ users: AdminUser[] }>('GET', '/api/admin/users').then((r) => r.users), props);
  const [pending, setPending] = useState<Pending | null>(null);
  const [link, setLink] = useState<Link | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const enable = async (user: AdminUser) => {
    try {
      await api('POST', `/api/admin/users/${user.id}/enable`);
      setNotice(t('admin.userEnabled', { name: user.username }));
      setError(null);
      await users.reload();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <>
      <InviteForm
        onCreated={async (username, created) => {
          setLink(created);
          setNotice(created ? null : t('admin.serviceCreated', { name: username }));
          await users.reload();
        }}
      />
      {link && (
        <OneTimeValue key={link.url} id="enrolment-link" valueId="enrolment-url" title={t('admin.enrolmentLinkTitle')} value={link.url} doneLabel={t('admin.done')} onDone={() => setLink(null)}>
          <p>{t('admin.enrolmentLinkIntro', { name: link.username, date: dateTimeText(link.expiresAt) })}</p>
        </OneTimeValue>
      )}
      <p class="notice" role="status" hidden={notice === null}>{notice ?? ''}</p>
      <ErrorMessage error={error ?? users.error} />
      {users.data && (
        <DataTable id="users" caption={t('admin.usersCaption')} columns={[t('admin.username'), t('admin.displayName'), t('admin.roles'), t('admin.mfa'), t('admin.lastSignIn'), t('admin.accountState'), t('sessions.actions')]}>
          {users.data.map((user) => (
            <tr key={user.id} data-user={user.username}>
              <th scope="row">
                {user.username}
                <span class="sub">{user.kind === 'service' ? t('admin.kindService') : t('admin.kindPerson')}</span>
              </th>
              <td>{user.displayName}</td>
              <td>{user.roles.map(roleLabel).join(', ')}</td>
              <td>{user.mfaEnrolled ? t('admin.mfaEnrolled') : user.mfaRequired ? t('admin.mfaMissing') : t('admin.mfaNone')}</td>
              <td>{user.lastLoginAt ? <time dateTime={user.lastLoginAt}>{dateTimeText(user.lastLoginAt)}</time> : <span class="muted">{t('admin.never')}</span>}</td>
              <td>
                <span class={`pill ${user.disabled ? 'off' : 'active'}`}>{user.disabled ? t('admin.disabled') : t('admin.enabled')}</span>
              </td>
              <td>
                <div class="row-actions">
                  {user.disabled ? (
                    <button type="button" class="secondary small" onClick={() => void enable(user)} aria-label={t('admin.enableUser', { name: user.username })}>
                      {t('admin.enable')}
                    </button>
                  ) : (
                    <button type="button" class="secondary small" onClick={() => setPending({ userId: user.id, action: 'disable' })} aria-label={t('admin.disableUser', { name: user.username })}>
                      {t('admin.disable')}
                    </button>
                  )}
                  {user.kind === 'person' && (
                    <button type="button" class="secondary small" onClick={() => setPending({ userId: user.id, action: 'reset-mfa' })} aria-label={t('admin.resetMfaUser', { name: user.username })}>
                      {t('admin.resetMfa')}
                    </button>
                  )}
                  <button type="button" class="secondary small" onClick={() => setPending({ userId: user.id, action: 'end-sessions' })} aria-label={t('admin.endSessionsUser', { name: user.username })}>
                    {t('admin.endSessions')}
                  </button>
                  <button type="button" class="secondary small" onClick={() => setPending({ userId: user.id, action: 'roles' })} aria-label={t('admin.changeRolesUser', { name: user.username })}>
                    {t('admin.changeRoles')}
                  </button>
                </div>
                {pending?.userId === user.id && pending.action === 'roles' && (
                  <RolesEditor
                    user={user}
                    onCancel={() => setPending(null)}
                    onSaved={async () => {
                      setPending(null);
                      setNotice(t('admin.rolesChanged', { name: user.username }));
                      await users.reload();
                    }}
                  />
                )}
                {pending?.userId === user.id && pending.action === 'disable' && (
                  <ConfirmPanel
                    id={`disable-${user.id}`}
                    message={t('admin.disableConfirm', { name: user.username })}
                    confirmLabel={t('admin.disable')}
                    reason="optional"
                    onCancel={() => setPending(null)}
                    onConfirm={async (reason) => {
                      await api('POST', `/api/admin/users/${user.id}/disable`, reason === '' ? {} : { reason });
                      setPending(null);
                      setNotice(t('admin.userDisabled', { name: user.username }));
                      await users.reload();
                    }}
                  />
                )}
                {pending?.userId === user.id && pending.action === 'reset-mfa' && (
                  <ConfirmPanel
                    id={`reset-mfa-${user.id}`}
                    message={t('admin.resetMfaConfirm', { name: user.username })}
                    confirmLabel={t('admin.resetMfa')}
                    onCancel={() => setPending(null)}
                    onConfirm={async () => {
                      const answer = await api<{ url: string; expiresAt: string }>('POST', `/api/admin/users/${user.id}/reset-mfa`);
                      setPending(null);
                      setLink({ username: user.username, ...answer });
                      await users.reload();
                    }}
                  />
                )}
                {pending?.userId === user.id && pending.action === 'end-sessions' && (
                  <ConfirmPanel
                    id={`end-sessions-${user.id}`}
                    message={t('admin.endSessionsConfirm', { name: user.username })}
                    confirmLabel={t('admin.endSessions')}
                    onCancel={() => setPending(null)}
                    onConfirm={async () => {
                      const answer = await api<{ revoked: number }>('DELETE', `/api/admin/users/${user.id}/sessions`);
                      setPending(null);
                      setNotice(t('admin.sessionsRevoked', { name: user.username, count: answer.revoked }));
                    }}
                  />
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </>
  );
}

/** A service account signs in with tokens, never with a second factor: it holds only the agent role (the server refuses others). */
const SERVICE_ROLES = ['agent'] as const;
const rolesFor = (kind: string, roles: readonly string[]) => (kind === 'service' ? roles.filter((r) => (SERVICE_ROLES as readonly string[]).includes(r)) : [...roles]);

/** Invite someone: the account is made without a password; a person gets a one-time link to set one (and TOTP). */
function InviteForm(props: { onCreated: (username: string, link: Link | null) => Promise<void> }) {
  const [username, setUsername] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [email, setEmail] = useState('');
  const [kind, setKind] = useState<'person' | 'service'>('person');
  const [roles, setRoles] = useState<string[]>(['operator']);
  const [mfaRequired, setMfaRequired] = useState(false);
  const { error, busy, run } = useAction();

  const submit = async (event: Event) => {
    event.preventDefault();
    await run(async () => {
      const body = { username: username.trim(), kind, roles: rolesFor(kind, roles), mfaRequired, ...(displayName.trim() ? { displayName: displayName.trim() } : {}), ...(email.trim() ? { email: email.trim() } : {}) };
      const answer = await api<{ user: AdminUser; enrolment: { url: string; expiresAt: string } | null }>('POST', '/api/admin/users', body);
      setUsername('');
      setDisplayName('');
      setEmail('');
      await props.onCreated(answer.user.username, answer.enrolment ? { username: answer.user.username, ...answer.enrolment } : null);
    });
  };

  return (
    <details class="panel form-panel">
      <summary>{t('admin.inviteTitle')}</summary>
      <form onSubmit={(e) => void submit(e)} id="invite-form">
        <div class="filter-grid">
          <Field id="invite-username" label={t('admin.username')} hint={t('admin.usernameHint')}>
            <input id="invite-username" required maxLength={128} autocomplete="off" value={username} onInput={(e) => setUsername(e.currentTarget.value)} aria-describedby="invite-username-hint" />
          </Field>
          <Field id="invite-display-name" label={t('admin.displayName')}>
            <input id="invite-display-name" maxLength={200} value={displayName} onInput={(e) => setDisplayName(e.currentTarget.value)} />
          </Field>
          <Field id="invite-email" label={t('admin.email')}>
            <input id="invite-email" type="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
          </Field>
          <Field id="invite-kind" label={t('admin.kind')}>
            <select
              id="invite-kind"
              value={kind}
              onInput={(e) => {
                const next = e.currentTarget.value as 'person' | 'service';
                setKind(next);
                setRoles(next === 'service' ? ['agent'] : ['operator']);
              }}
            >
              <option value="person">{t('admin.kindPerson')}</option>
              <option value="service">{t('admin.kindService')}</option>
            </select>
          </Field>
        </div>
        <CheckboxSet legend={t('admin.roles')} options={kind === 'service' ? SERVICE_ROLES : ROLE_NAMES} chosen={roles} onChange={setRoles} label={roleLabel} />
        <label class="check">
          <input type="checkbox" id="invite-mfa" checked={mfaRequired} onChange={(e) => setMfaRequired(e.currentTarget.checked)} />
          {t('admin.mfaRequired')}
        </label>
        <ErrorMessage error={error} />
        <div class="actions">
          <button type="submit" disabled={busy}>{t('admin.invite')}</button>
        </div>
      </form>
    </details>
  );
}

/** A user's roles, changed in place; their live web sessions get the new roles at their next request. */
function RolesEditor(props: { user: AdminUser; onCancel: () => void; onSaved: () => Promise<void> }) {
  const [roles, setRoles] = useState<string[]>(rolesFor(props.user.kind, props.user.roles));
  const { error, busy, run } = useAction();
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => {
    first.current?.focus();
  }, []);
  const submit = async (event: Event) => {
    event.preventDefault();
    await run(async () => {
      await api('PATCH', `/api/admin/users/${props.user.id}`, { roles });
      await props.onSaved();
    });
  };
  return (
    <form class="confirm roles-editor" id={`roles-${props.user.id}`} onSubmit={(e) => void submit(e)}>
      <CheckboxSet legend={t('admin.rolesOf', { name: props.user.username })} options={props.user.kind === 'service' ? SERVICE_ROLES : ROLE_NAMES} chosen={roles} onChange={setRoles} label={roleLabel} firstRef={first} />
      <ErrorMessage error={error} />
      <div class="actions">
        <button type="submit" disabled={busy}>{t('admin.save')}</button>
        <button type="button" class="secondary" onClick={props.onCancel} disabled={busy}>
          {t('ui.cancel')}
        </button>
      </div>
    </form>
  );
}
