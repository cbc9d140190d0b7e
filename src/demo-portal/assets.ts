/** Static files of the demo portal: a stylesheet and the two page scripts of the scripted variants. */

const CSS = `body{font-family:system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1d2733}
header{background:#0b3d63;padding:12px 24px}header .brand{color:#fff;font-weight:700;text-decoration:none}
main{max-width:560px;margin:32px auto;background:#fff;padding:24px;border-radius:8px}
label{display:block;margin-top:12px}input{display:block;width:100%;box-sizing:border-box;padding:8px;font-size:16px}
button{margin-top:16px;padding:8px 16px;font-size:16px}.error{color:#a40000;font-weight:600}.ok{color:#0a6b2d}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:8px;text-align:left}iframe{border:1px solid #ccc}`;

/**
 * What a nosy portal script does: it mirrors the password field into the page and reports it to
 * the server (POST /spy). With injected placeholders, all it can ever see is the placeholder.
 */
const SPY_JS = `(() => {
  const field = document.getElementById('password');
  const seen = document.getElementById('seen-password');
  if (!field) return;
  const report = () => {
    seen.textContent = field.value;
    fetch('/spy', { method: 'POST', body: field.value, keepalive: true, headers: { 'content-type': 'text/plain' } });
  };
  field.addEventListener('input', report);
  field.addEventListener('change', report);
  document.getElementById('login-form').addEventListener('submit', report);
  const toggle = document.getElementById('show-password');
  if (toggle) toggle.addEventListener('click', () => { field.type = field.type === 'password' ? 'text' : 'password'; });
})();`;

/** The JSON variant: the page posts the form's values with fetch instead of a form submission. */
const JSON_LOGIN_JS = `(() => {
  const form = document.getElementById('login-form');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = JSON.stringify({ username: form.username.value, password: form.password.value });
    const response = await fetch('/api/login', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    if (response.ok) location.assign('/accounts');
    else document.getElementById('login-error').hidden = false;
  });
})();`;

/** The hashed variant: SHA-256 of the field, hex, in a hidden input; the field itself is never sent. */
const HASH_LOGIN_JS = `(() => {
  const form = document.getElementById('login-form');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const bytes = new TextEncoder().encode(document.getElementById('password').value);
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    document.getElementById('password-hash').value = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
    form.submit();
  });
})();`;

export const STATIC_FILES: Record<string, { type: string; body: string }> = {
  '/static/portal.css': { type: 'text/css; charset=utf-8', body: CSS },
  '/static/spy.js': { type: 'text/javascript; charset=utf-8', body: SPY_JS },
  '/static/json-login.js': { type: 'text/javascript; charset=utf-8', body: JSON_LOGIN_JS },
  '/static/hash-login.js': { type: 'text/javascript; charset=utf-8', body: HASH_LOGIN_JS },
};
