import { z } from 'zod';

/**
 * Login recipes: how a remote browser signs in to a portal, as plain data (stored in an asset's
 * definition, validated here, run by browser/login). Selectors are Playwright selector strings:
 * CSS (which pierces open shadow roots) or `text=...`. Values are templates whose placeholders name
 * credential fields; a recipe never holds a secret itself.
 */
export type RecipeStep =
  // `optional`: the step is skipped when its element is not visible once the page has loaded
  // (no waiting); without it, a step waits for its element until the login's deadline.
  /** Absolute http(s) URL, or a path relative to the asset's start URL. */
  | { goto: string }
  /** Selector; `value` is a template: '{{username}}', '{{password}}', '{{totp}}', '{{field:NAME}}' (and literal text). */
  | { fill: string; value: string; optional?: boolean }
  | { click: string; optional?: boolean }
  | { press: string; key: string; optional?: boolean }
  | { waitFor: { selector?: string; url?: string; navigation?: true; timeoutMs?: number } }
  /** Selector of an iframe; the nested steps run inside it. */
  | { frame: string; steps: RecipeStep[] }
  /** The nested steps run only when the selector is visible (cookie banners, "remember this device"). */
  | { ifVisible: string; steps: RecipeStep[] };

export interface LoginRecipe {
  steps: RecipeStep[];
  /** 'intercept' (default): the page only ever holds a placeholder. 'fill': the real value is typed (portals that transform the password in the page). */
  injection?: 'intercept' | 'fill';
}

/** A page state: every given part must hold. `url` is a glob (`*` within a path segment, `**` across) or `/regex/`. */
export interface PageCheck {
  url?: string;
  selector?: string;
  text?: string;
}

/** One piece of a value template. */
export type TemplatePart = { kind: 'literal'; text: string } | { kind: 'field'; name: string } | { kind: 'totp' };

/** Credential field names: the vault's shape (letters, digits, `_`, `-`, starting with a letter). */
const FIELD_NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/;
const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
/** Nesting of `frame` / `ifVisible` blocks: real portals need two levels at most. */
export const MAX_RECIPE_DEPTH = 4;
export const MAX_RECIPE_STEPS = 100;

/**
 * Splits a value template into literal text and placeholders. Throws a TypeError naming the bad
 * placeholder (templates are not secret; the values they stand for never pass through here).
 */
export function parseTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    if (match.index > last) parts.push({ kind: 'literal', text: template.slice(last, match.index) });
    parts.push(placeholderPart(match[1]!.trim()));
    last = match.index + match[0].length;
  }
  if (last < template.length) parts.push({ kind: 'literal', text: template.slice(last) });
  const stray = parts.find((part) => part.kind === 'literal' && (part.text.includes('{{') || part.text.includes('}}')));
  if (stray) throw new TypeError('unbalanced {{ }} in a value template');
  return parts;
}

function placeholderPart(name: string): TemplatePart {
  if (name === 'username' || name === 'password') return { kind: 'field', name };
  if (name === 'totp') return { kind: 'totp' };
  if (name.startsWith('field:')) {
    const field = name.slice('field:'.length).trim();
    if (FIELD_NAME.test(field)) return { kind: 'field', name: field };
  }
  throw new TypeError(`unknown placeholder {{${name}}}: use {{username}}, {{password}}, {{totp}} or {{field:NAME}}`);
}

/** True when the template draws on the credential (so filling it is an injection, never logged). */
export function templateIsSecret(template: string): boolean {
  return parseTemplate(template).some((part) => part.kind !== 'literal');
}

/**
 * A matcher for a PageCheck `url`: `/regex/flags`, or a glob where `**` matches anything, `*`
 * anything but `/`, `?` one character but `/`. Throws a TypeError when the regex does not compile.
 */
export function compileUrlPattern(pattern: string): (url: string) => boolean {
  const regex = /^\/(.+)\/([a-z]*)$/s.exec(pattern);
  if (regex) {
    const compiled = new RegExp(regex[1]!, regex[2]);
    return (url) => compiled.test(url);
  }
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === '*' && pattern[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  const compiled = new RegExp(`^${source}$`);
  return (url) => compiled.test(url);
}

const selector = z.string().trim().min(1).max(1000);
const template = z
  .string()
  .max(1000)
  .superRefine((value, ctx) => {
    try {
      parseTemplate(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });
const urlPattern = z
  .string()
  .min(1)
  .max(2000)
  .superRefine((value, ctx) => {
    try {
      compileUrlPattern(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not a valid /regex/' });
    }
  });
const gotoTarget = z
  .string()
  .min(1)
  .max(2000)
  .refine((value) => value.startsWith('/') || /^https?:\/\//i.test(value), 'an absolute http(s) URL or a path starting with /');
const optional = z.boolean().optional();

export const recipeStepSchema: z.ZodType<RecipeStep> = z.lazy(() =>
  z.union([
    z.strictObject({ goto: gotoTarget }),
    z.strictObject({ fill: selector, value: template, optional }),
    z.strictObject({ click: selector, optional }),
    z.strictObject({ press: selector, key: z.string().min(1).max(50), optional }),
    z.strictObject({
      waitFor: z
        .strictObject({
          selector: selector.optional(),
          url: urlPattern.optional(),
          navigation: z.literal(true).optional(),
          timeoutMs: z.number().int().min(1).max(120_000).optional(),
        })
        .refine((w) => w.selector !== undefined || w.url !== undefined || w.navigation !== undefined, 'waitFor needs a selector, a url or navigation'),
    }),
    z.strictObject({ frame: selector, steps: z.array(recipeStepSchema).min(1).max(MAX_RECIPE_STEPS) }),
    z.strictObject({ ifVisible: selector, steps: z.array(recipeStepSchema).min(1).max(MAX_RECIPE_STEPS) }),
  ]),
);

export const loginRecipeSchema = z
  .strictObject({
    steps: z.array(recipeStepSchema).min(1).max(MAX_RECIPE_STEPS),
    injection: z.enum(['intercept', 'fill']).optional(),
  })
  .superRefine((recipe, ctx) => {
    if (recipeDepth(recipe.steps) > MAX_RECIPE_DEPTH) ctx.addIssue({ code: 'custom', message: `frame/ifVisible blocks nest at most ${MAX_RECIPE_DEPTH} deep` });
    if (countSteps(recipe.steps) > MAX_RECIPE_STEPS) ctx.addIssue({ code: 'custom', message: `at most ${MAX_RECIPE_STEPS} steps in all` });
  }) satisfies z.ZodType<LoginRecipe>;

export const pageCheckSchema = z
  .strictObject({ url: urlPattern.optional(), selector: selector.optional(), text: z.string().min(1).max(1000).optional() })
  .refine((c) => c.url !== undefined || c.selector !== undefined || c.text !== undefined, 'a check needs a url, a selector or a text') satisfies z.ZodType<PageCheck>;

function nested(step: RecipeStep): RecipeStep[] | undefined {
  return 'frame' in step || 'ifVisible' in step ? step.steps : undefined;
}

function recipeDepth(steps: readonly RecipeStep[]): number {
  return 1 + Math.max(0, ...steps.map((step) => (nested(step) ? recipeDepth(nested(step)!) : 0)));
}

function countSteps(steps: readonly RecipeStep[]): number {
  return steps.reduce((sum, step) => sum + 1 + (nested(step) ? countSteps(nested(step)!) : 0), 0);
}
