// Groups and memberships, assets, permissions: the policy (`admin.policy.*`).
import { useState } from 'preact/hooks';
import { api } from '../../api.js';
import { t } from '../../i18n/index.js';
import { ConfirmPanel, ErrorMessage, Field } from '../../ui.js';
import { CheckboxSet, ROLE_NAMES, roleLabel, useLoad, userName, type AdminAsset, type AdminUser, type Grant, type Group, type Member, type SectionProps, useAction, type VaultEntry } from './common.js';
import { DataTable } from '../../data-table.js';
import { LoginEditor } from './login-recipe.js';
import { GroupEditor } from './group-edit.js';
import { ACTION_LABELS, ACTIONS, PermissionEditor } from './permission-edit.js';
import { TimeWindowFields, useTimeWindow } from './time-window.js';
import { newGrantBody, PermissionGrid, usePermissionsView, ViewSwitch } from './permission-grid.js';

/** Groups, the roles they give, and who is in them. */
export function GroupsSection(props: SectionProps) {
  const groups = useLoad(() => api<{ groups: Group[] }>('GET', '/api/admin/groups').then((r) => r.groups), props);
  const users = useLoad(() => api<{ users: AdminUser[] }>('GET', '/api/admin/users').then((r) => r.users), props);
  const [open, setOpen] = useState<string | null>(null);
  const [editingGroup, setEditingGroup] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [roles, setRoles] = useState<string[]>([]);
  const create = useAction();

  const submit = async (event: Event) => {
    event.preventDefault();
    const ok = await create.run(() => api('POST', '/api/admin/groups', { name: name.trim(), description: description.trim(), roles }));
    if (ok) {
      setName('');
      setDescription('');
      setRoles([]);
      await groups.reload();
    }
  };

  return (
    <>
      <details class="panel form-panel">
        <summary>{t('admin.createGroup')}</summary>
        <form onSubmit={(e) => void submit(e)} id="group-form">
          <div class="filter-grid">
            <Field id="group-name" label={t('admin.groupName')}>
              <input id="group-name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
            </Field>
            <Field id="group-description" label={t('admin.description')}>
              <input id="group-description" maxLength={500} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
            </Field>
          </div>
          <CheckboxSet legend={t('admin.groupRoles')} options={ROLE_NAMES} chosen={roles} onChange={setRoles} label={roleLabel} />
          <ErrorMessage error={create.error} />
          <div class="actions">
            <button type="submit" disabled={create.busy}>{t('admin.createGroup')}</button>
          </div>
        </form>
      </details>
      <ErrorMessage error={groups.error} />
      {groups.data && groups.data.length === 0 && <p class="muted">{t('admin.noGroups')}</p>}
      {groups.data && groups.data.length > 0 && (
        <DataTable id="groups" caption={t('admin.groupsCaption')} columns={[t('admin.groupName'), t('admin.description'), t('admin.groupRoles'), t('sessions.actions')]}>
          {groups.data.map((group) => (
            <tr key={group.id} data-group={group.name}>
              <th scope="row">{group.name}</th>
              <td>{group.description}</td>
              <td>{group.roles.map(roleLabel).join(', ') || <span class="muted">—</span>}</td>
              <td>
                <div class="row-actions">
                  <button type="button" class="secondary small" aria-expanded={open === group.id} onClick={() => setOpen(open === group.id ? null : group.id)} aria-label={t('admin.membersOf', { name: group.name })}>
                    {t('admin.members')}
                  </button>
                  <button type="button" class="secondary small" aria-expanded={editingGroup === group.id} onClick={() => setEditingGroup(editingGroup === group.id ? null : group.id)} aria-label={t('admin.editNamed', { name: group.name })}>
                    {t('admin.edit')}
                  </button>
                  <button type="button" class="small danger" onClick={() => setDeleting(group.id)} aria-label={t('admin.deleteNamed', { name: group.name })}>
                    {t('admin.delete')}
                  </button>
                </div>
                {deleting === group.id && (
                  <ConfirmPanel
                    id={`delete-group-${group.id}`}
                    message={t('admin.deleteGroupConfirm', { name: group.name })}
                    confirmLabel={t('admin.delete')}
                    onCancel={() => setDeleting(null)}
                    onConfirm={async () => {
                      await api('DELETE', `/api/admin/groups/${group.id}`);
                      setDeleting(null);
                      await groups.reload();
                    }}
                  />
                )}
                {editingGroup === group.id && (
                  <GroupEditor
                    group={group}
                    onDone={async (changed) => {
                      setEditingGroup(null);
                      if (changed) await groups.reload();
                    }}
                  />
                )}
                {open === group.id && <Members group={group} users={users.data ?? []} {...props} />}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </>
  );
}

function Members(props: SectionProps & { group: Group; users: AdminUser[] }) {
  const members = useLoad(() => api<{ members: Member[] }>('GET', `/api/admin/groups/${props.group.id}/members`).then((r) => r.members), props);
  const [adding, setAdding] = useState('');
  const action = useAction();
  const present = new Set((members.data ?? []).map((m) => m.userId));

  return (
    <div class="members">
      <ErrorMessage error={members.error ?? action.error} />
      {members.data && members.data.length === 0 && <p class="muted">{t('admin.noMembers')}</p>}
      <ul>
        {(members.data ?? []).map((m) => (
          <li key={m.userId}>
            {m.username}
            {m.source === 'oidc' && <span class="muted"> ({t('admin.fromSso')})</span>}{' '}
            <button
              type="button"
              class="link"
              onClick={() => void action.run(() => api('DELETE', `/api/admin/groups/${props.group.id}/members/${m.userId}`)).then(() => members.reload())}
              aria-label={t('admin.removeMember', { name: m.username, group: props.group.name })}
            >
              {t('admin.remove')}
            </button>
          </li>
        ))}
      </ul>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void action.run(() => api('POST', `/api/admin/groups/${props.group.id}/members`, { userId: adding })).then((ok) => {
            if (ok) setAdding('');
            return members.reload();
          });
        }}
      >
        <label for={`add-member-${props.group.id}`}>{t('admin.addMember')}</label>
        <select id={`add-member-${props.group.id}`} required value={adding} onInput={(e) => setAdding(e.currentTarget.value)}>
          <option value="">{t('admin.choose')}</option>
          {props.users
            .filter((u) => !present.has(u.id))
            .map((u) => (
              <option key={u.id} value={u.id}>{u.username}</option>
            ))}
        </select>
        <button type="submit" class="small" disabled={action.busy}>{t('admin.add')}</button>
      </form>
    </div>
  );
}

/** The portal catalogue: list, add, the essential edits (name, address, credential, MFA), delete. */
export function AssetsSection(props: SectionProps) {
  const assets = useLoad(() => api<{ assets: AdminAsset[] }>('GET', '/api/admin/assets').then((r) => r.assets), props);
  const vault = useLoad(() => api<{ entries: VaultEntry[] }>('GET', '/api/admin/vault').then((r) => r.entries), props);
  const [editing, setEditing] = useState<AdminAsset | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);

  return (
    <>
      <p class="muted">{t('admin.assetsIntro')}</p>
      <AssetForm
        key={editing?.id ?? 'new'}
        asset={editing}
        entries={vault.data ?? []}
        onDone={async () => {
          setEditing(null);
          await assets.reload();
        }}
      />
      {editing && <LoginEditor key={`login-${editing.id}`} asset={editing} onSaved={() => assets.reload()} />}
      <ErrorMessage error={assets.error} />
      {assets.data && assets.data.length === 0 && <p class="muted">{t('admin.noAssets')}</p>}
      {assets.data && assets.data.length > 0 && (
        <DataTable id="assets" caption={t('admin.assetsCaption')} columns={[t('admin.assetName'), t('admin.assetUrl'), t('admin.credential'), t('admin.mfa'), t('sessions.actions')]}>
          {assets.data.map((asset) => (
            <tr key={asset.id} data-asset={asset.id}>
              <th scope="row">
                {asset.name}
                <span class="sub">{asset.id}</span>
              </th>
              <td class="sub-inline">{asset.url}</td>
              <td>{asset.credential ?? <span class="muted">{t('admin.noCredential')}</span>}</td>
              <td>{asset.mfaRequired ? t('admin.mfaNeeded') : t('admin.mfaNotNeeded')}</td>
              <td>
                <div class="row-actions">
                  <button type="button" class="secondary small" onClick={() => setEditing(asset)} aria-label={t('admin.editNamed', { name: asset.name })}>
                    {t('admin.edit')}
                  </button>
                  <button type="button" class="small danger" onClick={() => setDeleting(asset.id)} aria-label={t('admin.deleteNamed', { name: asset.name })}>
                    {t('admin.delete')}
                  </button>
                </div>
                {deleting === asset.id && (
                  <ConfirmPanel
                    id={`delete-asset-${asset.id}`}
                    message={t('admin.deleteAssetConfirm', { name: asset.name })}
                    confirmLabel={t('admin.delete')}
                    onCancel={() => setDeleting(null)}
                    onConfirm={async () => {
                      await api('DELETE', `/api/admin/assets/${encodeURIComponent(asset.id)}`);
                      setDeleting(null);
                      await assets.reload();
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

function AssetForm(props: { asset: AdminAsset | null; entries: VaultEntry[]; onDone: () => Promise<void> }) {
  const editing = props.asset;
  const [id, setId] = useState(editing?.id ?? '');
  const [name, setName] = useState(editing?.name ?? '');
  const [url, setUrl] = useState(editing?.url ?? '');
  const [credential, setCredential] = useState(editing?.credential ?? '');
  const [mfaRequired, setMfaRequired] = useState(editing?.mfaRequired ?? false);
  const action = useAction();

  const submit = async (event: Event) => {
    event.preventDefault();
    const fields = { name: name.trim(), url: url.trim(), credential: credential === '' ? null : credential, mfaRequired };
    const ok = await action.run(() =>
      editing ? api('PATCH', `/api/admin/assets/${encodeURIComponent(editing.id)}`, fields) : api('POST', '/api/admin/assets', { id: id.trim(), ...fields }),
    );
    if (ok) await props.onDone();
  };

  return (
    <details class="panel form-panel" open={editing !== null}>
      <summary>{editing ? t('admin.editNamed', { name: editing.name }) : t('admin.addAsset')}</summary>
      <form onSubmit={(e) => void submit(e)} id="asset-form">
        <div class="filter-grid">
          <Field id="asset-id" label={t('admin.assetId')} hint={t('admin.assetIdHint')}>
            <input id="asset-id" required maxLength={64} pattern="[a-z0-9-]+" readOnly={editing !== null} value={id} onInput={(e) => setId(e.currentTarget.value)} aria-describedby="asset-id-hint" />
          </Field>
          <Field id="asset-name" label={t('admin.assetName')}>
            <input id="asset-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <Field id="asset-url" label={t('admin.assetUrl')}>
            <input id="asset-url" type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
          </Field>
          <Field id="asset-credential" label={t('admin.credential')}>
            <select id="asset-credential" value={credential} onInput={(e) => setCredential(e.currentTarget.value)}>
              <option value="">{t('admin.noCredential')}</option>
              {props.entries.map((entry) => (
                <option key={entry.id} value={entry.id}>{entry.id}</option>
              ))}
            </select>
          </Field>
        </div>
        <label class="check">
          <input type="checkbox" checked={mfaRequired} onChange={(e) => setMfaRequired(e.currentTarget.checked)} />
          {t('admin.assetMfa')}
        </label>
        {!editing && <p class="muted">{t('admin.recipeNote')}</p>}
        <ErrorMessage error={action.error} />
        <div class="actions">
          <button type="submit" disabled={action.busy}>{editing ? t('admin.save') : t('admin.addAsset')}</button>
          {editing && (
            <button type="button" class="secondary" onClick={() => void props.onDone()}>
              {t('ui.cancel')}
            </button>
          )}
        </div>
      </form>
    </details>
  );
}

/** A time window in words: "Europe/Berlin, days 1–5, 08:00–18:00". */
function windowText(grant: Grant): string {
  const w = grant.timeWindow;
  if (!w) return t('admin.always');
  return t('admin.windowText', { zone: w.timeZone, days: w.days.join(', '), start: w.start, end: w.end });
}

/** Who may connect to, watch or replay which asset, when. */
export function PermissionsSection(props: SectionProps) {
  const grants = useLoad(() => api<{ permissions: Grant[] }>('GET', '/api/admin/permissions').then((r) => r.permissions), props);
  const users = useLoad(() => api<{ users: AdminUser[] }>('GET', '/api/admin/users').then((r) => r.users), props);
  const groups = useLoad(() => api<{ groups: Group[] }>('GET', '/api/admin/groups').then((r) => r.groups), props);
  const assets = useLoad(() => api<{ assets: AdminAsset[] }>('GET', '/api/admin/assets').then((r) => r.assets), props);
  const [deleting, setDeleting] = useState<string | null>(null);
  const [editingGrant, setEditingGrant] = useState<string | null>(null);
  const [view, goView] = usePermissionsView();

  const subjectName = (g: Grant) => (g.subjectKind === 'group' ? (groups.data?.find((x) => x.id === g.subjectId)?.name ?? g.subjectId) : userName(users.data, g.subjectId));
  const assetName = (id: string) => assets.data?.find((a) => a.id === id)?.name ?? id;

  return (
    <>
      <ViewSwitch view={view} go={goView} />
      <PermissionForm users={users.data ?? []} groups={groups.data ?? []} assets={assets.data ?? []} onCreated={() => grants.reload()} />
      <ErrorMessage error={grants.error} />
      {view === 'grid' && grants.data && groups.data && users.data && assets.data && <PermissionGrid grants={grants.data} groups={groups.data} users={users.data} assets={assets.data} onChanged={() => grants.reload()} />}
      {view === 'list' && grants.data && grants.data.length === 0 && <p class="muted">{t('admin.noPermissions')}</p>}
      {view === 'list' && grants.data && grants.data.length > 0 && (
        <DataTable id="permissions" caption={t('admin.permissionsCaption')} columns={[t('admin.subject'), t('sessions.portal'), t('admin.allowed'), t('admin.timeWindow'), t('admin.maxConcurrent'), t('sessions.actions')]}>
          {grants.data.map((g) => {
            const label = `${subjectName(g)}, ${assetName(g.assetId)}`;
            return (
              <tr key={g.id} data-permission={g.id}>
                <th scope="row">
                  {subjectName(g)}
                  <span class="sub">{g.subjectKind === 'group' ? t('admin.subjectGroup') : t('admin.subjectUser')}</span>
                </th>
                <td>{assetName(g.assetId)}</td>
                <td>{g.actions.map((a) => ACTION_LABELS[a as (typeof ACTIONS)[number]]?.() ?? a).join(', ')}</td>
                <td>{windowText(g)}</td>
                <td class="number">{g.maxConcurrent ?? '—'}</td>
                <td>
                  <div class="row-actions">
                    <button type="button" class="secondary small" aria-expanded={editingGrant === g.id} onClick={() => setEditingGrant(editingGrant === g.id ? null : g.id)} aria-label={t('admin.editNamed', { name: label })}>
                      {t('admin.edit')}
                    </button>
                    <button type="button" class="small danger" onClick={() => setDeleting(g.id)} aria-label={t('admin.deleteNamed', { name: label })}>
                      {t('admin.delete')}
                    </button>
                  </div>
                  {editingGrant === g.id && (
                    <PermissionEditor
                      grant={g}
                      label={label}
                      onDone={async (changed) => {
                        setEditingGrant(null);
                        if (changed) await grants.reload();
                      }}
                    />
                  )}
                  {deleting === g.id && (
                    <ConfirmPanel
                      id={`delete-permission-${g.id}`}
                      message={t('admin.deletePermissionConfirm', { name: label })}
                      confirmLabel={t('admin.delete')}
                      onCancel={() => setDeleting(null)}
                      onConfirm={async () => {
                        await api('DELETE', `/api/admin/permissions/${g.id}`);
                        setDeleting(null);
                        await grants.reload();
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

function PermissionForm(props: { users: AdminUser[]; groups: Group[]; assets: AdminAsset[]; onCreated: () => Promise<void> }) {
  const [subject, setSubject] = useState('');
  const [assetId, setAssetId] = useState('');
  const [actions, setActions] = useState<Array<(typeof ACTIONS)[number]>>(['connect']);
  const [maxConcurrent, setMaxConcurrent] = useState('');
  const timeWindow = useTimeWindow(null);
  const action = useAction();

  const submit = async (event: Event) => {
    event.preventDefault();
    const [subjectKind, subjectId] = subject.split(':') as ['user' | 'group', string];
    const body = newGrantBody(subjectKind, subjectId, assetId, actions, maxConcurrent, timeWindow.value());
    if (await action.run(() => api('POST', '/api/admin/permissions', body))) await props.onCreated();
  };

  return (
    <details class="panel form-panel">
      <summary>{t('admin.addPermission')}</summary>
      <form onSubmit={(e) => void submit(e)} id="permission-form">
        <div class="filter-grid">
          <Field id="permission-subject" label={t('admin.subject')}>
            <select id="permission-subject" required value={subject} onInput={(e) => setSubject(e.currentTarget.value)}>
              <option value="">{t('admin.choose')}</option>
              <optgroup label={t('admin.subjectGroup')}>
                {props.groups.map((g) => (
                  <option key={g.id} value={`group:${g.id}`}>{g.name}</option>
                ))}
              </optgroup>
              <optgroup label={t('admin.subjectUser')}>
                {props.users.map((u) => (
                  <option key={u.id} value={`user:${u.id}`}>{u.username}</option>
                ))}
              </optgroup>
            </select>
          </Field>
          <Field id="permission-asset" label={t('sessions.portal')}>
            <select id="permission-asset" required value={assetId} onInput={(e) => setAssetId(e.currentTarget.value)}>
              <option value="">{t('admin.choose')}</option>
              {props.assets.map((a) => (
                <option key={a.id} value={a.id}>{a.name}</option>
              ))}
            </select>
          </Field>
          <Field id="permission-max" label={t('admin.maxConcurrent')}>
            <input id="permission-max" type="number" min={1} max={1000} value={maxConcurrent} onInput={(e) => setMaxConcurrent(e.currentTarget.value)} />
          </Field>
        </div>
        <CheckboxSet legend={t('admin.allowed')} options={ACTIONS} chosen={actions} onChange={setActions} label={(a) => ACTION_LABELS[a]()} />
        <TimeWindowFields prefix="window" state={timeWindow} />
        <ErrorMessage error={action.error} />
        <div class="actions">
          <button type="submit" disabled={action.busy || actions.length === 0}>{t('admin.addPermission')}</button>
        </div>
      </form>
    </details>
  );
}
