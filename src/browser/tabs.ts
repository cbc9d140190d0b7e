import type { CDPSession, Page } from 'playwright-core';
import type { BrowserEvent, TabInfo } from './types.js';
import { describeUrl } from './url-guard.js';

export interface Tab {
  readonly id: string;
  readonly page: Page;
  /** The tab's control channel: input and the redirect interceptor. */
  readonly cdp: CDPSession;
  title: string;
}

/**
 * The tabs of one session. Popups and new windows become tabs of the same session (never a
 * window of their own); a new popup becomes the active tab, as in a desktop browser.
 */
export function createTabs(deps: { report(event: BrowserEvent): void; onActiveChanged(): void; onLastClosed(): void }) {
  const tabs: Tab[] = [];
  let active: Tab | undefined;
  let counter = 0;

  const setActive = (tab: Tab | undefined) => {
    if (active === tab) return;
    active = tab;
    if (tab) deps.report({ type: 'tab_switched', tabId: tab.id, url: describeUrl(tab.page.url()) });
    deps.onActiveChanged();
  };

  return {
    add(page: Page, cdp: CDPSession): Tab {
      counter += 1;
      const tab: Tab = { id: `tab-${counter}`, page, cdp, title: '' };
      tabs.push(tab);
      deps.report({ type: 'tab_opened', tabId: tab.id, url: describeUrl(page.url() || 'about:blank') });
      page.once('close', () => {
        const index = tabs.indexOf(tab);
        if (index === -1) return;
        tabs.splice(index, 1);
        deps.report({ type: 'tab_closed', tabId: tab.id, url: describeUrl(page.url() || 'about:blank') });
        if (tabs.length === 0) {
          active = undefined;
          deps.onLastClosed();
        } else if (active === tab) setActive(tabs[tabs.length - 1]);
      });
      setActive(tab);
      return tab;
    },
    get active(): Tab | undefined {
      return active;
    },
    byId(id: string): Tab | undefined {
      return tabs.find((tab) => tab.id === id);
    },
    activate(tab: Tab): void {
      setActive(tab);
    },
    list(): TabInfo[] {
      return tabs.map((tab) => ({ id: tab.id, url: describeUrl(tab.page.url() || 'about:blank'), title: tab.title, active: tab === active }));
    },
    all(): readonly Tab[] {
      return tabs;
    },
  };
}

export type Tabs = ReturnType<typeof createTabs>;
