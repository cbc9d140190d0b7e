import { escapeHtml, html, layout, loginError, raw, type Html } from './html.js';

/** The login variants a portal can have, each under its own path (see README of `webasset demo-portal`). */
export const VARIANTS = {
  '/login': 'Username and password on one form',
  '/login-totp': 'Password, then a one-time code (TOTP)',
  '/login-two-page': 'Username, Next, then the password on a second page',
  '/login-iframe': 'The login form inside an iframe',
  '/login-scripted': 'A page script that copies the password field and reports it (shows what injection hides)',
  '/login-json': 'The page posts the login as JSON with fetch',
  '/login-hashed': 'The page hashes the password before sending it (needs injection: fill)',
} as const;

export function homePage(): string {
  const items = Object.entries(VARIANTS).map(([path, text]) => html`<li><a href="${path}">${path}</a> ${text}</li>`);
  return layout('Welcome', html`<h1>Demo Bank</h1><p>A portal to try WebAsset Controller against. Sign in with one of:</p><ul>${items}</ul>`);
}

function credentialsForm(action: string, error: string | undefined, options: { target?: string; withUsername?: boolean; withPassword?: boolean; button?: string } = {}): Html {
  const username = options.withUsername === false ? raw('') : html`<label for="username">Username</label><input id="username" name="username" type="text" autocomplete="username" required>`;
  const password = options.withPassword === false ? raw('') : html`<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>`;
  const target = options.target ? html` target="${options.target}"` : raw('');
  return html`${loginError(error)}<form id="login-form" method="post" action="${action}"${target}>${username}${password}<button id="sign-in" type="submit">${options.button ?? 'Sign in'}</button></form>`;
}

export function loginPage(action: '/login' | '/login-totp', error?: string): string {
  return layout('Sign in', html`<h1>Sign in</h1>${credentialsForm(action, error)}`);
}

export function totpPage(error?: string): string {
  const form = html`${loginError(error)}<form id="totp-form" method="post" action="/login-totp/code"><label for="totp">Code from your authenticator app</label><input id="totp" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required><button id="verify" type="submit">Verify</button></form>`;
  return layout('Verify', html`<h1>Two-step verification</h1>${form}`);
}

export function twoPageUsername(error?: string): string {
  return layout('Sign in', html`<h1>Sign in</h1>${credentialsForm('/login-two-page', error, { withPassword: false, button: 'Next' })}`);
}

export function twoPagePassword(username: string, error?: string): string {
  return layout('Sign in', html`<h1>Welcome back</h1><p>Signing in as <strong id="who">${username}</strong></p>${credentialsForm('/login-two-page/password', error, { withUsername: false })}`);
}

export function iframeHost(error: boolean): string {
  const src = error ? '/login-iframe/form?error=1' : '/login-iframe/form';
  return layout('Sign in', html`<h1>Sign in</h1><p>Secure sign-in area:</p><iframe id="login-frame" title="Sign in" src="${src}" width="420" height="320"></iframe>`);
}

/** The document inside the iframe: it posts to the top window so that success leaves the frame. */
export function iframeForm(error: boolean): string {
  return layout('Sign in', credentialsForm('/login-iframe/form', error ? 'Wrong username or password.' : undefined, { target: '_top' }), { bare: true });
}

export function scriptedPage(error?: string): string {
  const body = html`<h1>Sign in</h1>${credentialsForm('/login-scripted', error)}<button id="show-password" type="button">Show password</button><p>The page's script sees: <output id="seen-password"></output></p>`;
  return layout('Sign in', body, { scripts: ['/static/spy.js'] });
}

export function jsonLoginPage(): string {
  const body = html`<h1>Sign in</h1><p class="error" id="login-error" role="alert" hidden>Wrong username or password.</p>${credentialsForm('/login-json', undefined)}<p>The page's script sees: <output id="seen-password"></output></p>`;
  return layout('Sign in', body, { scripts: ['/static/spy.js', '/static/json-login.js'] });
}

/** The password field has no name: only the hash the page computes from it is sent. */
export function hashedPage(error?: string): string {
  const body = html`<h1>Sign in</h1>${loginError(error)}<form id="login-form" method="post" action="/login-hashed"><label for="username">Username</label><input id="username" name="username" type="text" autocomplete="username" required>
<label for="password">Password</label><input id="password" type="password" autocomplete="current-password" required><input id="password-hash" name="passwordHash" type="hidden">
<button id="sign-in" type="submit">Sign in</button></form>`;
  return layout('Sign in', body, { scripts: ['/static/hash-login.js'] });
}

export function accountsPage(user: string, balance: string, csrf: string): string {
  const body = html`<h1>Accounts</h1><p>Signed in as <strong id="user">${user}</strong></p>
<table id="accounts"><tr><th>Account</th><th>Balance</th></tr><tr><td>Current account NL91 DEMO 0417 1643 00</td><td id="balance">${balance}</td></tr></table>
<p><a id="transfer-link" href="/transfer">Make a transfer</a></p>
<p><a id="statement-link" href="/statements/latest.csv">Download the latest statement (CSV)</a></p>
<p><a id="documents-link" href="/documents">Upload a document</a></p>${logoutForm(csrf)}`;
  return layout('Accounts', body);
}

/** The latest statement as CSV (`/statements/latest.csv`, sent as an attachment: the browser downloads it). */
export function statementCsv(user: string, balance: string): string {
  return `account,holder,balance\nNL91 DEMO 0417 1643 00,${user.replace(/[",\r\n]/g, ' ')},"${balance}"\n`;
}

/** An upload form (`/documents`): one file; after a submit, the name and size the portal received. */
export function documentsPage(csrf: string, received?: { name: string; size: number }): string {
  const result = received ? html`<p id="upload-result" role="status">Received <strong id="received-name">${received.name}</strong> (<span id="received-size">${received.size}</span> bytes).</p>` : raw('');
  const form = html`<form id="upload-form" method="post" action="/documents?csrf=${csrf}" enctype="multipart/form-data">
<label for="document">Document</label><input id="document" name="document" type="file" accept=".pdf,.csv,.txt,image/*">
<button id="upload" type="submit">Upload</button></form>`;
  return layout('Documents', html`<h1>Documents</h1>${result}${form}<p><a href="/accounts">Back to accounts</a></p>${logoutForm(csrf)}`);
}

/** The transfer form's optional purpose (a select, for the agent tools' select_option). */
export const PURPOSES: ReadonlyArray<readonly [string, string]> = [['', 'None'], ['rent', 'Rent'], ['savings', 'Savings'], ['gift', 'Gift']];

export function transferPage(csrf: string, balance: string, result?: { ok: boolean; text: string }): string {
  const message = result ? html`<p id="transfer-result" class="${result.ok ? 'ok' : 'error'}" role="status">${result.text}</p>` : raw('');
  const form = html`<form id="transfer-form" method="post" action="/transfer"><input type="hidden" name="csrf" value="${csrf}">
<label for="to">To (IBAN)</label><input id="to" name="to" type="text" required maxlength="34">
<label for="amount">Amount (EUR)</label><input id="amount" name="amount" type="text" inputmode="decimal" required>
<label for="purpose">Purpose (optional)</label><select id="purpose" name="purpose">${PURPOSES.map(([value, label]) => html`<option value="${value}">${label}</option>`)}</select>
<button id="send" type="submit">Send</button></form>`;
  return layout('Transfer', html`<h1>Transfer</h1><p>Available: <span id="balance">${balance}</span></p>${message}${form}<p><a href="/accounts">Back to accounts</a></p>${logoutForm(csrf)}`);
}

/**
 * A careless portal's profile page (signed in, `/profile`): it prints the account's password in its
 * text, in attributes (title, data-, an input's value) and in a link, as some real portals do, and
 * with tricks a hostile page could use to get it past a search for the value: invisible characters
 * (raw and as references) or spaces between its letters, its halves in two inline elements, a link
 * with percent-encoded zero-width spaces. The agent tools' redaction must still hide it (the MCP
 * canary test).
 */
export function carelessProfilePage(user: string, password: string, csrf: string): string {
  const chars = [...password];
  const invisible = ['&#8203;', '\u00ad', '&shy;', '\ufeff', '&#x2060;', '\u200d', '&zwj;', '\u200c'];
  const laced = chars.map((c, i) => escapeHtml(c) + (i < chars.length - 1 ? invisible[i % invisible.length]! : '')).join('');
  const half = Math.ceil(chars.length / 2);
  const body = html`<h1>Profile</h1><p>Signed in as <strong id="user">${user}</strong></p>
<p id="careless-text">Your password is <code>${password}</code>, keep it safe.</p>
<p id="careless-laced">Spelled with invisible characters: ${raw(laced)}.</p>
<p id="careless-spaced">Spelled out: ${chars.join(' ')}.</p>
<p id="careless-split">In two halves: <b>${chars.slice(0, half).join('')}</b><i>${chars.slice(half).join('')}</i>.</p>
<p><a id="careless-zw-link" href="/accounts?zw=${encodeURIComponent(chars.join('\u200b'))}">Accounts (zero-width hint)</a></p>
<p><span id="careless-attr" title="${password}" data-password="${password}" aria-label="Password on file: ${password}">Password on file</span></p>
<label for="careless-input">Current password (shown)</label><input id="careless-input" type="text" value="${password}" readonly>
<p><a id="careless-link" href="/accounts?hint=${encodeURIComponent(password)}">Back to accounts</a></p>${logoutForm(csrf)}`;
  return layout('Profile', body);
}

export function signedOutPage(): string {
  return layout('Signed out', html`<h1>Signed out</h1><p id="signed-out">You have signed out.</p><p><a href="/">Sign in again</a></p>`);
}

function logoutForm(csrf: string): Html {
  return html`<form id="logout-form" method="post" action="/logout"><input type="hidden" name="csrf" value="${csrf}"><button id="logout" type="submit">Sign out</button></form>`;
}

export function formatEuros(cents: number): string {
  return `€${(cents / 100).toLocaleString('en-GB', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}
