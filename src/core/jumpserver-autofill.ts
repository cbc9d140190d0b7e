import { z } from 'zod';
import { AppError } from './errors.js';
import { loginRecipeSchema, type LoginRecipe, type RecipeStep } from './login-recipe.js';

/**
 * Import of JumpServer web-asset autofill, so a JumpServer deployment can bring its assets over.
 * The format is the one JumpServer's Chrome applet executes (jumpserver/applets, chrome/app.py):
 * a web asset has `autofill` ('no' | 'basic' | 'script'); 'basic' uses `username_selector`,
 * `password_selector` and `submit_selector`; 'script' is a list of `{ step, command, target, value }`
 * run in `step` order. Targets are `by=value` with `by` one of name, id, class_name,
 * css_selector, css, xpath (case-insensitive; an unknown `by` means name, as JumpServer does).
 * Commands: type (send_keys of value), click (also 'button'), open (go to value), select_frame
 * (target index=N, id=X, name=X, or a bare id/name; index<0 returns to the page), sleep (target
 * seconds), code (JumpServer asks the person for a code). `{USERNAME}` and `{SECRET}` in values
 * are the account's username and secret. Steps with an empty target are skipped, as JumpServer does.
 */
const stepSchema = z.object({
  step: z.coerce.number().int(),
  command: z.string().min(1).max(32),
  target: z.string().max(1000).default(''),
  value: z.string().max(1000).nullish(),
});
const webAssetSchema = z.object({
  autofill: z.enum(['no', 'basic', 'script']).default('basic'),
  username_selector: z.string().max(128).default(''),
  password_selector: z.string().max(128).default(''),
  submit_selector: z.string().max(128).default(''),
  script: z.array(stepSchema).max(200).default([]),
});
/** A web asset's autofill fields, or its `script` list alone. */
export const jumpServerAutofillSchema = z.union([webAssetSchema, z.array(stepSchema).max(200).transform((script) => webAssetSchema.parse({ autofill: 'script', script }))]);

export interface JumpServerImport {
  /** null when JumpServer's autofill was off: the automatic recipe applies. */
  recipe: LoginRecipe | null;
  /** What changed in meaning on the way (never a value). */
  warnings: string[];
}

type JumpServerStep = z.infer<typeof stepSchema>;

/** Converts JumpServer autofill to a recipe; throws AppError invalid_request naming the step, never quoting a value. */
export function importJumpServerAutofill(input: unknown): JumpServerImport {
  const parsed = jumpServerAutofillSchema.safeParse(input);
  if (!parsed.success) throw invalid('The JumpServer autofill is malformed.', parsed.error.issues.map((issue) => ({ field: issue.path.join('.') || '(root)', problem: issue.code })));
  const asset = parsed.data;
  if (asset.autofill === 'no') return { recipe: null, warnings: ['JumpServer autofill was off: the automatic recipe will sign in'] };
  const script: JumpServerStep[] =
    asset.autofill === 'basic'
      ? [
          { step: 1, command: 'type', target: asset.username_selector, value: '{USERNAME}' },
          { step: 2, command: 'type', target: asset.password_selector, value: '{SECRET}' },
          { step: 3, command: 'click', target: asset.submit_selector, value: '' },
        ]
      : [...asset.script].sort((a, b) => a.step - b.step);
  return convert(script);
}

function convert(script: readonly JumpServerStep[]): JumpServerImport {
  const warnings: string[] = [];
  const top: RecipeStep[] = [];
  // The lists steps go into: the page, then one per select_frame entered (Selenium's frames nest).
  let stack: RecipeStep[][] = [top];
  for (const item of script) {
    const where = `step ${item.step} (${item.command})`;
    if (item.target.trim() === '') {
      warnings.push(`${where}: skipped, its target is empty (JumpServer skips it too)`);
      continue;
    }
    const command = item.command.toLowerCase();
    const current = stack[stack.length - 1]!;
    if (command === 'select_frame') {
      const frame = frameSelector(item.target, where);
      if (frame === null) {
        stack = [top];
        continue;
      }
      const block: RecipeStep = { frame, steps: [] };
      current.push(block);
      stack.push(block.steps);
    } else if (command === 'sleep') {
      warnings.push(`${where}: dropped; recipe steps wait for their element (add a waitFor step if the portal needs one)`);
    } else if (command === 'type') {
      current.push({ fill: elementSelector(item.target, where, warnings), value: template(item.value ?? '', where, warnings) });
    } else if (command === 'click' || command === 'button') {
      current.push({ click: elementSelector(item.target, where, warnings) });
    } else if (command === 'code') {
      warnings.push(`${where}: JumpServer asks the person for a code; the recipe fills {{totp}} from the vault entry's totpSeed`);
      current.push({ fill: elementSelector(item.target, where, warnings), value: '{{totp}}' });
    } else if (command === 'open') {
      const url = (item.value ?? '').trim();
      if (/\{(USERNAME|SECRET)\}/.test(url)) throw invalid(`${where}: a credential in a URL is not imported.`);
      if (!/^https?:\/\//i.test(url) && !url.startsWith('/')) throw invalid(`${where}: the value must be an http(s) URL or a path.`);
      top.push({ goto: url });
      // A new page: JumpServer's driver stays in its frame, but a frame of the old page is gone.
      stack = [top];
    } else {
      throw invalid(`${where}: unknown command; JumpServer's are type, click, open, select_frame, sleep and code.`);
    }
  }
  const steps = prune(top);
  if (steps.length === 0) throw invalid('The JumpServer autofill has no step to import.');
  const recipe = loginRecipeSchema.safeParse({ steps });
  if (!recipe.success) throw invalid('The imported recipe is invalid.', recipe.error.issues.map((issue) => ({ field: issue.path.join('.'), problem: issue.message })));
  return { recipe: recipe.data, warnings };
}

/** `by=value` to a Playwright selector, as JumpServer's StepAction resolves it. */
function elementSelector(target: string, where: string, warnings: string[]): string {
  const at = target.indexOf('=');
  if (at === -1) throw invalid(`${where}: the target must be by=value (name, id, class_name, css_selector, css or xpath).`);
  const by = target.slice(0, at).trim().toLowerCase();
  const value = target.slice(at + 1);
  if (value.trim() === '') throw invalid(`${where}: the target has no value after '='.`);
  switch (by) {
    case 'id':
      return `[id=${quote(value)}]`;
    case 'name':
      return `[name=${quote(value)}]`;
    case 'class_name':
      return `[class~=${quote(value)}]`;
    case 'css_selector':
    case 'css':
      return `css=${value}`;
    case 'xpath':
      return `xpath=${value}`;
    default:
      // The locator is quoted only when it looks like one: the target is the file's text, not ours.
      warnings.push(`${where}: unknown locator${/^[a-z_]{1,32}$/.test(by) ? ` '${by}'` : ''} read as name=…, as JumpServer does`);
      return `[name=${quote(value)}]`;
  }
}

/** select_frame's target to an iframe selector; null for index<0 (back to the page). */
function frameSelector(target: string, where: string): string | null {
  const at = target.indexOf('=');
  const by = at === -1 ? '' : target.slice(0, at).trim();
  const value = at === -1 ? target : target.slice(at + 1);
  if (by === 'index') {
    if (!/^-?\d+$/.test(value.trim())) throw invalid(`${where}: index= needs a whole number.`);
    const index = Number(value);
    return index < 0 ? null : `:is(iframe, frame) >> nth=${index}`;
  }
  if (by === 'id') return `:is(iframe, frame)[id=${quote(value)}]`;
  if (by === 'name') return `:is(iframe, frame)[name=${quote(value)}]`;
  // Selenium's switch_to.frame(text) takes an id or a name.
  return `:is(iframe, frame):is([id=${quote(target)}], [name=${quote(target)}])`;
}

/** JumpServer placeholders to ours; other text stays literal, with a warning since it may be a secret typed into the script. */
function template(value: string, where: string, warnings: string[]): string {
  if (value.includes('{{') || value.includes('}}')) throw invalid(`${where}: the value contains '{{' or '}}', which recipes reserve for placeholders.`);
  const converted = value.replace(/\{USERNAME\}/g, '{{username}}').replace(/\{SECRET\}/g, '{{password}}');
  const literal = converted.replace(/\{\{(username|password)\}\}/g, '');
  if (literal !== '') warnings.push(`${where}: types fixed text; if it is a secret, move it to the vault entry and use {{field:NAME}}`);
  return converted;
}

function quote(text: string): string {
  return `"${text.replace(/["\\]/g, '\\$&')}"`;
}

/** Frame blocks that received no step are left out (a select_frame at the very end). */
function prune(steps: RecipeStep[]): RecipeStep[] {
  return steps.flatMap((step): RecipeStep[] => {
    if (!('frame' in step)) return [step];
    const inner = prune(step.steps);
    return inner.length === 0 ? [] : [{ frame: step.frame, steps: inner }];
  });
}

function invalid(message: string, data?: unknown): AppError {
  return new AppError('invalid_request', { publicMessage: message, data });
}
