import { useEffect, useState } from 'preact/hooks';
import { usePageHeading, useTitle } from '../focus.js';
import { SignedInFrame, type SignedInProps } from '../frame.js';
import { t } from '../i18n/index.js';
import { AlertsSection } from './admin/alerts.js';
import { AssetsSection, GroupsSection, PermissionsSection } from './admin/policy.js';
import { LiveSessionsSection } from './admin/sessions.js';
import { TokensSection } from './admin/tokens.js';
import { UsersSection } from './admin/users.js';
import { VaultSection } from './admin/vault.js';

const SECTIONS = ['sessions', 'users', 'groups', 'assets', 'permissions', 'vault', 'tokens', 'alerts'] as const;
type Section = (typeof SECTIONS)[number];

const LABELS: Record<Section, () => string> = {
  sessions: () => t('admin.sectionSessions'),
  users: () => t('admin.sectionUsers'),
  groups: () => t('admin.sectionGroups'),
  assets: () => t('admin.sectionAssets'),
  permissions: () => t('admin.sectionPermissions'),
  vault: () => t('admin.sectionVault'),
  tokens: () => t('admin.sectionTokens'),
  alerts: () => t('alerts.section'),
};

/** The section the address names (`/admin?section=users`); live sessions otherwise. */
function sectionOfAddress(): Section {
  const value = new URLSearchParams(window.location.search).get('section');
  return (SECTIONS as readonly string[]).includes(value ?? '') ? (value as Section) : 'sessions';
}

/** The administrator's console: one section at a time, each a real address (`?section=`), changed without a reload. */
export function AdminConsole(props: SignedInProps) {
  const [section, setSection] = useState<Section>(sectionOfAddress);
  const heading = usePageHeading();
  useTitle(`${LABELS[section]()} · ${t('admin.title')}`);

  useEffect(() => {
    const onPop = () => setSection(sectionOfAddress());
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  const go = (event: MouseEvent, next: Section) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    window.history.pushState(null, '', `/admin?section=${next}`);
    setSection(next);
  };
  const onUnauthenticated = () => props.onSignedOut(() => t('app.sessionOver'));

  return (
    <SignedInFrame who={props.who} onSignedOut={props.onSignedOut} current="/admin">
      <h1 ref={heading} tabIndex={-1}>{t('admin.title')}</h1>
      <nav aria-label={t('admin.sectionsLabel')}>
        <ul class="tabs">
          {SECTIONS.map((s) => (
            <li key={s}>
              <a href={`/admin?section=${s}`} id={`section-${s}`} aria-current={s === section ? 'page' : undefined} onClick={(e) => go(e, s)}>
                {LABELS[s]()}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <section aria-labelledby={`section-title-${section}`} key={section}>
        <h2 id={`section-title-${section}`}>{LABELS[section]()}</h2>
        {section === 'sessions' && <LiveSessionsSection onUnauthenticated={onUnauthenticated} />}
        {section === 'users' && <UsersSection onUnauthenticated={onUnauthenticated} />}
        {section === 'groups' && <GroupsSection onUnauthenticated={onUnauthenticated} />}
        {section === 'assets' && <AssetsSection onUnauthenticated={onUnauthenticated} />}
        {section === 'permissions' && <PermissionsSection onUnauthenticated={onUnauthenticated} />}
        {section === 'vault' && <VaultSection onUnauthenticated={onUnauthenticated} />}
        {section === 'tokens' && <TokensSection onUnauthenticated={onUnauthenticated} />}
        {section === 'alerts' && <AlertsSection onUnauthenticated={onUnauthenticated} />}
      </section>
    </SignedInFrame>
  );
}
