// The permissions as a grid (issue 8.5): one row per group (then per user with a direct grant), one column per
// asset; a cell names the actions granted and marks a time window or a limit. A cell is a button: it opens the
// in-place editor of its grant, or, when empty, a small form that creates one (POST /api/admin/permissions).
import { useEffect, useState } from 'preact/hooks';
import { api } from '../../api.js';
import { t } from '../../i18n/index.js';
import { type AdminAsset, type AdminUser, type Grant, type Group } from './common.js';
import { ACTION_LABELS, GrantForm, PermissionEditor, type Action, type GrantChoice } from './permission-edit.js';
import { type TimeWindow } from './time-window.js';

export type PermissionsView = 'list' | 'grid';

/** The view the address names (`/admin?section=permissions&view=grid`); the list otherwise. */
function viewOfAddress(): PermissionsView {
  return new URLSearchParams(window.location.search).get('view') === 'grid' ? 'grid' : 'list';
}

/** The section's view, kept in the address (back and forward follow it). */
export function usePermissionsView(): [PermissionsView, (event: MouseEvent, next: PermissionsView) => void] {
  const [view, setView] = useState<PermissionsView>(viewOfAddress);
  useEffect(() => {
    const onPop = () => setView(viewOfAddress());
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const go = (event: MouseEvent, next: PermissionsView) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    window.history.pushState(null, '', `/admin?section=permissions&view=${next}`);
    setView(next);
  };
  return [view, go];
}

/** The "Grid / List" switch: two real links, the current one marked. */
export function ViewSwitch(props: { view: PermissionsView; go: (event: MouseEvent, next: PermissionsView) => void }) {
  const views: Array<[PermissionsView, string]> = [
    ['list', t('grid.viewList')],
    ['grid', t('grid.viewGrid')],
  ];
  return (
    <nav aria-label={t('grid.viewLabel')}>
      <ul class="tabs view-switch">
        {views.map(([v, label]) => (
          <li key={v}>
            <a href={`/admin?section=permissions&view=${v}`} id={`permissions-view-${v}`} aria-current={props.view === v ? 'page' : undefined} onClick={(e) => props.go(e, v)}>
              {label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/** What POST /api/admin/permissions takes, from the add form's fields (the list's form and the grid's). */
export function newGrantBody(subjectKind: 'user' | 'group', subjectId: string, assetId: string, actions: Action[], maxConcurrent: string, timeWindow: TimeWindow | null) {
  return {
    subjectKind,
    subjectId,
    assetId,
    actions,
    ...(maxConcurrent !== '' ? { maxConcurrent: Number(maxConcurrent) } : {}),
    ...(timeWindow ? { timeWindow } : {}),
  };
}

interface Subject {
  kind: 'user' | 'group';
  id: string;
  name: string;
}

/** The cell open below the grid: a grant's editor, or the form creating one. */
type Open = { kind: 'edit'; grant: Grant; label: string; from: string } | { kind: 'new'; subject: Subject; asset: AdminAsset; label: string; from: string };

const actionText = (a: string) => ACTION_LABELS[a as Action]?.() ?? a;

/** What a grant's cell shows: its actions, then a mark for a time window and one for a limit. */
function grantParts(g: Grant): string[] {
  const parts = [g.actions.map(actionText).join(', ')];
  if (g.timeWindow) parts.push(t('grid.markWindow'));
  if (g.maxConcurrent !== null) parts.push(t('grid.markLimit', { max: g.maxConcurrent }));
  return parts;
}

export function PermissionGrid(props: { grants: Grant[]; groups: Group[]; users: AdminUser[]; assets: AdminAsset[]; onChanged: () => Promise<void> }) {
  const [open, setOpen] = useState<Open | null>(null);
  const withDirect = new Set(props.grants.filter((g) => g.subjectKind === 'user').map((g) => g.subjectId));
  const subjects: Subject[] = [
    ...props.groups.map((g) => ({ kind: 'group' as const, id: g.id, name: g.name })),
    ...props.users.filter((u) => withDirect.has(u.id)).map((u) => ({ kind: 'user' as const, id: u.id, name: u.username })),
  ];

  const close = async (changed: boolean) => {
    const from = open?.from;
    setOpen(null);
    if (changed) await props.onChanged();
    if (from) document.getElementById(from)?.focus();
  };

  if (props.assets.length === 0 || subjects.length === 0) return <p class="muted">{t('grid.empty')}</p>;
  return (
    <>
      <div class="table-wrap">
        <table class="data permission-grid" id="permission-grid">
          <caption>{t('grid.caption')}</caption>
          <thead>
            <tr>
              <th scope="col">
                <span class="visually-hidden">{t('admin.subject')}</span>
              </th>
              {props.assets.map((a) => (
                <th scope="col" key={a.id}>{a.name}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {subjects.map((s) => (
              <tr key={`${s.kind}:${s.id}`} data-subject={s.name}>
                <th scope="row">
                  {s.name}
                  <span class="sub">{s.kind === 'group' ? t('admin.subjectGroup') : t('admin.subjectUser')}</span>
                </th>
                {props.assets.map((a) => {
                  const where = t('grid.where', { subject: s.name, asset: a.name });
                  const cell = props.grants.filter((g) => g.subjectKind === s.kind && g.subjectId === s.id && g.assetId === a.id);
                  const newId = `grid-new-${s.kind}-${s.id}-${a.id}`;
                  return (
                    <td key={a.id} data-asset={a.id}>
                      {cell.length === 0 && (
                        <button type="button" id={newId} class="grid-cell empty" aria-expanded={open?.from === newId} aria-label={t('grid.cellEmpty', { where })} onClick={() => setOpen(open?.from === newId ? null : { kind: 'new', subject: s, asset: a, label: where, from: newId })}>
                          <span aria-hidden="true">+</span>
                        </button>
                      )}
                      {cell.map((g) => {
                        const id = `grid-grant-${g.id}`;
                        const parts = grantParts(g);
                        // The name is the cell's text after its row and column ("tellers on Demo Bank: Open sessions; Time window"): what is seen is what is said.
                        return (
                          <button type="button" key={g.id} id={id} class="grid-cell" aria-expanded={open?.from === id} aria-label={`${where}: ${parts.join('; ')}`} onClick={() => setOpen(open?.from === id ? null : { kind: 'edit', grant: g, label: where, from: id })}>
                            {parts.map((part, i) => (
                              <span key={i} class={i === 0 ? 'grant-actions' : 'grant-mark'}>
                                {i < parts.length - 1 ? `${part}; ` : part}
                              </span>
                            ))}
                          </button>
                        );
                      })}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {open && (
        <section class="panel grid-open" aria-labelledby="grid-open-title">
          <h3 id="grid-open-title">{open.label}</h3>
          {open.kind === 'edit' ? (
            <PermissionEditor key={open.from} grant={open.grant} label={open.label} onDone={close} />
          ) : (
            <GrantCreator key={open.from} subject={open.subject} asset={open.asset} label={open.label} onDone={close} />
          )}
        </section>
      )}
    </>
  );
}

/** The form an empty cell opens: the actions, the limit, the time window of a new grant for that group (or user) on that asset. */
function GrantCreator(props: { subject: Subject; asset: AdminAsset; label: string; onDone: (changed: boolean) => Promise<void> }) {
  const send = (choice: GrantChoice) => api('POST', '/api/admin/permissions', newGrantBody(props.subject.kind, props.subject.id, props.asset.id, choice.actions, choice.maxConcurrent, choice.timeWindow));
  return <GrantForm id="grid-new" label={t('grid.newLabel', { where: props.label })} initial={{ actions: ['connect'], maxConcurrent: '', timeWindow: null }} submitLabel={t('admin.addPermission')} send={send} onDone={props.onDone} />;
}
