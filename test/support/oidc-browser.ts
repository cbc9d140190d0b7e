interface StoredCookie {
  name: string;
  value: string;
  host: string;
  path: string;
}

/**
 * Just enough of a browser for sign-in flows over real HTTP: redirects are
 * followed by hand (so a test can stop or tamper at any hop) and cookies are
 * kept per host and path. Like a browser, cookies ignore the port, so the
 * provider's and the gateway's cookies live side by side on 127.0.0.1.
 */
export class TestBrowser {
  private cookies: StoredCookie[] = [];

  /** One request, no redirect followed; cookies sent and stored. */
  async request(url: string | URL, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Response> {
    const target = new URL(url);
    const headers: Record<string, string> = { ...init.headers };
    const cookie = this.cookieHeader(target);
    if (cookie) headers.cookie = cookie;
    if (init.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(target, { method: init.method ?? 'GET', body: init.body, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) this.store(target, line);
    return response;
  }

  /**
   * Follows redirects from `url`. Stops before requesting a URL for which
   * `stopAt` is true, and returns that URL unrequested.
   */
  async follow(url: string | URL, stopAt: (next: URL) => boolean = () => false): Promise<{ response: Response | null; url: URL }> {
    let current = new URL(url);
    for (let hop = 0; hop < 20; hop++) {
      if (stopAt(current)) return { response: null, url: current };
      const response = await this.request(current);
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) return { response, url: current };
      await response.arrayBuffer();
      current = new URL(location, current);
    }
    throw new Error('too many redirects');
  }

  /** Value of a cookie visible at `url`. */
  cookie(name: string, url: string | URL): string | undefined {
    const target = new URL(url);
    return this.cookies.find((c) => c.name === name && this.matches(c, target))?.value;
  }

  /** All cookie names held, for tests that look for what should not be there. */
  cookieNames(): string[] {
    return this.cookies.map((c) => c.name);
  }

  setCookie(name: string, value: string, url: string | URL, path = '/'): void {
    const host = new URL(url).hostname;
    this.cookies = this.cookies.filter((c) => !(c.name === name && c.host === host && c.path === path));
    this.cookies.push({ name, value, host, path });
  }

  private cookieHeader(target: URL): string {
    return this.cookies
      .filter((c) => this.matches(c, target))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  private matches(c: StoredCookie, target: URL): boolean {
    if (c.host !== target.hostname) return false;
    return target.pathname === c.path || target.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/';
  }

  private store(from: URL, line: string): void {
    const [pair, ...attributes] = line.split(';');
    const eq = pair!.indexOf('=');
    const name = pair!.slice(0, eq).trim();
    const value = pair!.slice(eq + 1).trim();
    let path = '/';
    let expired = false;
    for (const attribute of attributes) {
      const [key, val = ''] = attribute.split('=').map((s) => s.trim());
      const lower = key!.toLowerCase();
      if (lower === 'path' && val.startsWith('/')) path = val;
      if (lower === 'max-age' && Number(val) <= 0) expired = true;
      if (lower === 'expires' && Date.parse(val) <= Date.now()) expired = true;
    }
    this.cookies = this.cookies.filter((c) => !(c.name === name && c.host === from.hostname && c.path === path));
    if (!expired && value !== '') this.cookies.push({ name, value, host: from.hostname, path });
  }
}
