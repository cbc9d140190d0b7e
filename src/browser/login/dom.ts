// The few DOM shapes the page-side functions of the login runner use. The project compiles without
// the DOM library (it is server code); these functions run inside the page, passed to evaluate().

export interface DomElement {
  readonly tagName: string;
  readonly type: string;
  readonly disabled: boolean;
  readonly readOnly: boolean;
  readonly autocomplete: string;
  readonly value: string;
  readonly textContent: string | null;
  readonly form: DomForm | null;
  readonly ownerDocument: DomContainer;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { width: number; height: number };
  /** Chromium 105+: false for display:none (and, with the option, visibility:hidden) on it or an ancestor. */
  checkVisibility(options?: { visibilityProperty?: boolean }): boolean;
  compareDocumentPosition(other: DomElement): number;
}

export interface DomContainer {
  querySelectorAll(selector: string): ArrayLike<DomElement>;
}

export interface DomForm extends DomContainer {
  getAttribute(name: string): string | null;
}
