import type { DomElement } from './login/dom.js';

/**
 * A field's form as the page's main world tells it. The main world is the page's own: its scripts
 * can override `HTMLInputElement.prototype.form` or `Element.prototype.getAttribute` and make a
 * form that posts elsewhere name an allowed host. So where a credential may go, the claim is then
 * checked with {@link formClaimSelector} in Playwright's utility world, an isolated world whose DOM
 * bindings the page cannot reach (the agent's fill_credential and the login runner).
 */
export interface FormClaim {
  /** The action attribute of the field's form owner ('' when absent), or null without a form owner. */
  action: string | null;
  /** The field's own `form` attribute (the id of its form), or null. */
  attribute: string | null;
}

/** Page function (main world): the field's form claim. No helpers inside: it is sent to the page as its source text. */
export function READ_FORM_CLAIM(el: unknown): FormClaim {
  const e = el as DomElement;
  return { action: e.form ? (e.form.getAttribute('action') ?? '') : null, attribute: e.getAttribute('form') };
}

/**
 * A selector whose root is the field, matching it only when the claim holds as the DOM says it
 * (run from a locator or an element handle, XPath runs in the utility world): the field's `form`
 * attribute, and its form owner (the first element of its tree with that id, when a form, else
 * the nearest form ancestor) with that action attribute; or, for no form, no form owner at all (no
 * form attribute and no form ancestor, or a form attribute that names no form). The claim is
 * checked, not read again, so the check is one round trip whatever the answer. A field that is not
 * an input or textarea (contenteditable) has no form owner. A field with no form ancestor may still
 * have a form the HTML parser gave it: `<table><form><tr><td><input>` (a legacy layout many portals
 * keep) closes the form at once and leaves the rows' fields its own; that form precedes the field,
 * so the nearest preceding form is taken as the claim's. Known limits: a page script can insert a
 * decoy form between a field and the form the parser gave it, and a field inside one form that the
 * parser gave to another (misnested markup) is taken as its ancestor's (decision 0022); the
 * navigation lock still stops any request to a host the asset does not allow.
 */
export function formClaimSelector(claim: FormClaim): string {
  const field = '(self::input or self::textarea)';
  const attribute = claim.attribute;
  // An empty form attribute names no element (an empty id is no id).
  const formWithId = (id: string, action = '') => (id === '' ? 'false()' : `(//*[@id=${xpathString(id)}])[1][self::form]${action}`);
  let holds: string;
  if (claim.action === null) {
    const unmatched = attribute === null ? '' : ` or (@form=${xpathString(attribute)} and not(${formWithId(attribute)}))`;
    holds = `not${field} or (not(@form) and not(ancestor::form))${unmatched}`;
  } else {
    const action = claim.action === '' ? '[not(@action) or @action=""]' : `[@action=${xpathString(claim.action)}]`;
    holds =
      attribute === null
        ? `${field} and not(@form) and (ancestor::form[1]${action} or (not(ancestor::form) and preceding::form[1]${action}))`
        : `${field} and @form=${xpathString(attribute)} and ${formWithId(attribute, action)}`;
  }
  return `xpath=self::*[${holds}]`;
}

/** An XPath string literal of any text (XPath 1.0 has no escapes: `concat` where both quotes occur). */
function xpathString(text: string): string {
  if (!text.includes('"')) return `"${text}"`;
  if (!text.includes("'")) return `'${text}'`;
  return `concat(${text
    .split('"')
    .map((part) => `"${part}"`)
    .join(`, '"', `)})`;
}
