// An asset's login: its recipe and its success and failure checks as JSON (docs/login-recipes.md), tried
// with "Test login now" before they are saved. The server validates; its problems are shown by field.
import { useRef, useState } from 'preact/hooks';
import { api } from '../../api.js';
import { durationText, t } from '../../i18n/index.js';
import { ErrorMessage, Field } from '../../ui.js';
import { useAction, type AdminAsset } from './common.js';

/** What POST /api/admin/assets/:id/test-login answers. */
type TestResult = { ok: true; durationMs: number } | { ok: false; durationMs: number; failedStep: { index: number; kind: string; label: string }; message: string };

type FieldName = 'loginRecipe' | 'successCheck' | 'failureCheck';
const FIELDS: readonly FieldName[] = ['loginRecipe', 'successCheck', 'failureCheck'];
const IDS: Record<FieldName, string> = { loginRecipe: 'asset-recipe', successCheck: 'asset-success-check', failureCheck: 'asset-failure-check' };
const LABELS: Record<FieldName, () => string> = {
  loginRecipe: () => t('recipe.recipe'),
  successCheck: () => t('recipe.successCheck'),
  failureCheck: () => t('recipe.failureCheck'),
};
const HINTS: Record<FieldName, () => string> = {
  loginRecipe: () => t('recipe.recipeHint'),
  successCheck: () => t('recipe.checkHint'),
  failureCheck: () => t('recipe.checkHint'),
};

const asText = (value: unknown) => (value === null || value === undefined ? '' : JSON.stringify(value, null, 2));

/** The text of a field as the API takes it: empty is null (the automatic recipe, the default check); otherwise JSON, or the reason it is not. */
function parse(text: string): { value: unknown } | { problem: string } {
  if (text.trim() === '') return { value: null };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return { problem: t('recipe.notJson') };
  }
}

/** A step in words for the list beside the JSON: its kind and selector or URL (a recipe holds no value). */
function stepText(step: unknown): string {
  if (step === null || typeof step !== 'object') return '?';
  const s = step as Record<string, unknown>;
  for (const kind of ['goto', 'fill', 'click', 'press', 'frame', 'ifVisible']) if (typeof s[kind] === 'string') return `${kind} ${s[kind]}`;
  if (s.waitFor && typeof s.waitFor === 'object') {
    const w = s.waitFor as Record<string, unknown>;
    return `waitFor ${typeof w.selector === 'string' ? w.selector : typeof w.url === 'string' ? w.url : 'navigation'}`;
  }
  return Object.keys(s)[0] ?? '?';
}

const STEP_KINDS = ['fill', 'click', 'press', 'goto', 'waitFor'] as const;
type StepKind = (typeof STEP_KINDS)[number];

/** A new step from the add form: the target is a selector (a URL for goto); the value a template (fill) or a key (press). */
function newStep(kind: StepKind, target: string, value: string): Record<string, unknown> {
  switch (kind) {
    case 'goto':
      return { goto: target };
    case 'fill':
      return { fill: target, value };
    case 'press':
      return { press: target, key: value };
    case 'waitFor':
      return { waitFor: { selector: target } };
    default:
      return { click: target };
  }
}

/**
 * The recipe's top-level steps, numbered as a failed login names them, the failed one marked; each
 * can be moved or removed, and a simple step added at the end. Every change rewrites the JSON, which
 * stays what is tested and saved (nested blocks are edited there).
 */
function StepList(props: { recipe: unknown; failed: number | null; onChange: (steps: unknown[]) => void }) {
  const recipe = props.recipe as { steps?: unknown } | null;
  const steps = Array.isArray(recipe?.steps) ? (recipe.steps as unknown[]) : [];
  const [kind, setKind] = useState<StepKind>('fill');
  const [target, setTarget] = useState('');
  const [value, setValue] = useState('');
  const move = (from: number, to: number) => {
    const next = [...steps];
    const [step] = next.splice(from, 1);
    next.splice(to, 0, step);
    props.onChange(next);
  };
  const add = (event: Event) => {
    event.preventDefault();
    if (target.trim() === '') return;
    props.onChange([...steps, newStep(kind, target.trim(), value)]);
    setTarget('');
    setValue('');
  };
  // Enter in the add form adds the step; it must not submit the editor's form (which saves).
  const addOnEnter = (event: KeyboardEvent) => {
    if (event.key === 'Enter') add(event);
  };
  return (
    <div class="recipe-step-editor">
      {steps.length === 0 ? (
        <p class="muted" id="recipe-automatic">{t('recipe.automatic')}</p>
      ) : (
        <ol class="recipe-steps" id="recipe-steps" aria-label={t('recipe.stepsLabel')}>
          {steps.map((step, i) => (
            <li key={i} data-step={i + 1} aria-current={props.failed === i + 1 ? 'step' : undefined}>
              <code>{stepText(step)}</code>
              {props.failed === i + 1 && <span class="pill outcome-failure">{t('recipe.failedHere')}</span>}
              <span class="step-actions">
                <button type="button" class="link" disabled={i === 0} onClick={() => move(i, i - 1)} aria-label={t('recipe.moveUp', { n: i + 1 })}>
                  {t('recipe.up')}
                </button>
                <button type="button" class="link" disabled={i === steps.length - 1} onClick={() => move(i, i + 1)} aria-label={t('recipe.moveDown', { n: i + 1 })}>
                  {t('recipe.down')}
                </button>
                <button type="button" class="link" onClick={() => props.onChange(steps.filter((_, j) => j !== i))} aria-label={t('recipe.removeStep', { n: i + 1 })}>
                  {t('admin.remove')}
                </button>
              </span>
            </li>
          ))}
        </ol>
      )}
      <fieldset class="checks" id="add-step">
        <legend>{t('recipe.addStep')}</legend>
        <div class="filter-grid">
          <Field id="step-kind" label={t('recipe.stepKind')}>
            <select id="step-kind" value={kind} onInput={(e) => setKind(e.currentTarget.value as StepKind)}>
              {STEP_KINDS.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          </Field>
          <Field id="step-target" label={kind === 'goto' ? t('recipe.stepUrl') : t('recipe.stepSelector')}>
            <input id="step-target" value={target} onInput={(e) => setTarget(e.currentTarget.value)} onKeyDown={addOnEnter} />
          </Field>
          {(kind === 'fill' || kind === 'press') && (
            <Field id="step-value" label={kind === 'fill' ? t('recipe.stepValue') : t('recipe.stepKey')} hint={kind === 'fill' ? t('recipe.stepValueHint') : undefined}>
              <input id="step-value" value={value} onInput={(e) => setValue(e.currentTarget.value)} onKeyDown={addOnEnter} aria-describedby={kind === 'fill' ? 'step-value-hint' : undefined} />
            </Field>
          )}
        </div>
        <div class="actions">
          <button type="button" class="secondary small" id="add-step-button" disabled={target.trim() === ''} onClick={add}>
            {t('recipe.add')}
          </button>
        </div>
      </fieldset>
    </div>
  );
}

/** The outcome of a test: success and its time, or the failed step and why (the server's words, in English). */
function Outcome(props: { result: TestResult }) {
  const r = props.result;
  if (r.ok) return <p class="notice">{t('recipe.testOk', { time: durationText(r.durationMs) })}</p>;
  const where =
    r.failedStep.kind === 'credential' ? t('recipe.failedCredential') : r.failedStep.kind === 'start' ? t('recipe.failedStart') : r.failedStep.kind === 'check' ? t('recipe.failedCheck') : t('recipe.failedStep', { index: r.failedStep.index, kind: r.failedStep.kind });
  return (
    <div class="error">
      <p>{where}</p>
      <p lang="en">{r.message}</p>
    </div>
  );
}

/** The login editor of one asset: edit, test (unsaved), save. */
export function LoginEditor(props: { asset: AdminAsset; onSaved: () => Promise<void> }) {
  const { asset } = props;
  const [texts, setTexts] = useState<Record<FieldName, string>>(() => ({
    loginRecipe: asText(asset.loginRecipe),
    successCheck: asText(asset.successCheck),
    failureCheck: asText(asset.failureCheck),
  }));
  const [problems, setProblems] = useState<Partial<Record<FieldName, string>>>({});
  const [result, setResult] = useState<TestResult | null>(null);
  const [saved, setSaved] = useState(false);
  const testing = useAction();
  const saving = useAction();
  const outcome = useRef<HTMLDivElement>(null);

  /** The three fields as the API takes them, or null when one is not JSON (its problem is shown beside it). */
  const body = (): Record<FieldName, unknown> | null => {
    const found: Partial<Record<FieldName, string>> = {};
    const values = {} as Record<FieldName, unknown>;
    for (const name of FIELDS) {
      const parsed = parse(texts[name]);
      if ('problem' in parsed) found[name] = parsed.problem;
      else values[name] = parsed.value;
    }
    setProblems(found);
    return Object.keys(found).length > 0 ? null : values;
  };

  const test = async () => {
    const values = body();
    if (!values) return;
    setResult(null);
    setSaved(false);
    await testing.run(async () => {
      setResult(await api<TestResult>('POST', `/api/admin/assets/${encodeURIComponent(asset.id)}/test-login`, values));
      outcome.current?.focus();
    });
  };
  const save = async (event: Event) => {
    event.preventDefault();
    const values = body();
    if (!values) return;
    setSaved(false);
    setResult(null);
    if (await saving.run(() => api('PATCH', `/api/admin/assets/${encodeURIComponent(asset.id)}`, values))) {
      setSaved(true);
      await props.onSaved();
    }
  };

  const recipe = parse(texts.loginRecipe);
  const failed = result && !result.ok ? result.failedStep.index : null;

  return (
    <section class="panel" id="login-editor" aria-labelledby="login-editor-title">
      <h3 id="login-editor-title">{t('recipe.title', { name: asset.name })}</h3>
      {asset.credential === null ? (
        <p class="muted">{t('recipe.noCredential')}</p>
      ) : (
        <form onSubmit={(e) => void save(e)} id="login-editor-form">
          <p class="muted">{t('recipe.intro')}</p>
          <div class="recipe-fields">
            {FIELDS.map((name) => (
              <Field key={name} id={IDS[name]} label={LABELS[name]()} hint={HINTS[name]()}>
                <textarea
                  id={IDS[name]}
                  rows={name === 'loginRecipe' ? 10 : 3}
                  spellcheck={false}
                  class="code"
                  value={texts[name]}
                  aria-describedby={`${IDS[name]}-hint${problems[name] ? ` ${IDS[name]}-problem` : ''}`}
                  aria-invalid={problems[name] ? true : undefined}
                  onInput={(e) => {
                    const value = e.currentTarget.value;
                    setTexts((all) => ({ ...all, [name]: value }));
                  }}
                />
                {problems[name] && (
                  <p class="error" id={`${IDS[name]}-problem`}>
                    {problems[name]}
                  </p>
                )}
              </Field>
            ))}
          </div>
          {'value' in recipe && (
            <StepList
              recipe={recipe.value}
              failed={failed}
              onChange={(steps) => {
                const current = (recipe.value ?? {}) as Record<string, unknown>;
                setTexts((all) => ({ ...all, loginRecipe: JSON.stringify({ ...current, steps }, null, 2) }));
                setResult(null);
              }}
            />
          )}
          <ErrorMessage error={testing.error ?? saving.error} />
          <div class="actions">
            <button type="button" id="test-login" class="secondary" disabled={testing.busy} onClick={() => void test()}>
              {testing.busy ? t('recipe.testing') : t('recipe.test')}
            </button>
            <button type="submit" id="save-login" disabled={saving.busy}>{t('recipe.save')}</button>
          </div>
          <div id="test-login-result" ref={outcome} tabIndex={-1} role="status" aria-live="polite">
            {result && <Outcome result={result} />}
            {saved && <p class="notice">{t('recipe.saved')}</p>}
          </div>
        </form>
      )}
    </section>
  );
}
