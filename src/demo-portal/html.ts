/** HTML building for the demo portal: escaped text, one layout, no inline script or style (the CSP forbids both). */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Marks a string as already-built HTML, so `page` does not escape it twice. */
export interface Html {
  readonly html: string;
}
export const raw = (html: string): Html => ({ html });

/** Tagged template: interpolated strings are escaped, Html values and arrays of them are inserted as they are. */
export function html(strings: TemplateStringsArray, ...values: Array<string | number | Html | Html[] | undefined>): Html {
  let out = strings[0]!;
  values.forEach((value, i) => {
    if (Array.isArray(value)) out += value.map((v) => v.html).join('');
    else if (value === undefined) out += '';
    else if (typeof value === 'object') out += value.html;
    else out += escapeHtml(String(value));
    out += strings[i + 1]!;
  });
  return raw(out);
}

export function layout(title: string, body: Html, options: { scripts?: string[]; bare?: boolean } = {}): string {
  const scripts = (options.scripts ?? []).map((src) => html`<script src="${src}" defer></script>`);
  const header = options.bare ? raw('') : html`<header><a href="/" class="brand">Demo Bank</a></header>`;
  return `<!doctype html>\n${
    html`<html lang="en"><head><meta charset="utf-8"><title>${title} · Demo Bank</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/portal.css">${scripts}</head>
<body>${header}<main>${body}</main></body></html>`.html
  }\n`;
}

/** The visible error element every login variant uses, so one failure check fits them all. */
export function loginError(message: string | undefined): Html {
  return message ? html`<p class="error" id="login-error" role="alert">${message}</p>` : raw('');
}
