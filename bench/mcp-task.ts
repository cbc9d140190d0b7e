import { performance } from 'node:perf_hooks';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Browser } from 'playwright-core';

/**
 * The scripted task of `bench/mcp`, as three drivers: (a) our `/mcp` tools, (b) `@playwright/mcp`'s
 * tools, (c) Playwright API calls. Each reads refs and text from the snapshots it is given, as an
 * agent would; nothing is hard-coded but the labels a person would see on the page.
 */

/** The row an action's time counts in. `login` is a part of (b)'s and (c)'s "open, logged in". */
export type Step = 'open' | 'login' | 'snapshot' | 'click' | 'type' | 'close';

export interface CallRecord {
  tool: string;
  step: Step;
  ms: number;
  /** UTF-8 bytes of the tool result as JSON (content, structured content, isError); 0 for (c). */
  resultBytes: number;
  /** Occurrences of the password in the call's arguments and in its result (JSON). */
  passwordInArgs: number;
  passwordInResult: number;
  /** The call as the transcript holds it (MCP only): arguments and result, JSON. */
  transcript?: { args: string; result: string };
}

export interface TaskRecord {
  calls: CallRecord[];
  /** From the first call to the end of the last. */
  ms: number;
  balance: string;
}

/** What the task types into the transfer form. */
export const TRANSFER = { iban: 'DE89370400440532013000', amount: '1.00' } as const;
const SENT = /Sent €1\.00 to DE89370400440532013000/;
const BALANCE = /€[\d,]+\.\d{2}/;

function count(haystack: string, needle: string): number {
  if (needle === '') return 0;
  let n = 0;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + needle.length)) n++;
  return n;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The ref of the element `role "name"` in an aria snapshot (`- textbox "Amount (EUR)" [ref=e12]`). */
export function refOf(snapshot: string, role: string, name: string): string {
  const match = new RegExp(`${escapeRegExp(role)} "${escapeRegExp(name)}"[^\\n]*?\\[ref=([^\\]\\s]+)\\]`).exec(snapshot);
  if (!match) throw new Error(`no ${role} "${name}" with a ref in the snapshot:\n${snapshot.slice(0, 2000)}`);
  return match[1]!;
}

function balanceOf(snapshot: string): string {
  const match = BALANCE.exec(snapshot);
  if (!match) throw new Error(`no balance in the snapshot:\n${snapshot.slice(0, 2000)}`);
  return match[0];
}

/** The text content of a tool result (what a model reads). */
export function resultText(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((c) => (c.type === 'text' ? (c.text ?? '') : `[${c.type}]`)).join('\n');
}

/** One MCP client's tool calls, timed and measured, for one task. */
export class McpTranscript {
  readonly calls: CallRecord[] = [];

  constructor(
    private readonly client: Client,
    private readonly password: string,
  ) {}

  async call(tool: string, args: Record<string, unknown>, step: Step): Promise<string> {
    const t0 = performance.now();
    const result = await this.client.callTool({ name: tool, arguments: args });
    const ms = performance.now() - t0;
    const json = JSON.stringify(result);
    const argsJson = JSON.stringify(args);
    this.calls.push({
      tool,
      step,
      ms,
      resultBytes: Buffer.byteLength(json),
      passwordInArgs: count(argsJson, this.password),
      passwordInResult: count(json, this.password),
      transcript: { args: argsJson, result: json },
    });
    const text = resultText(result);
    if (result.isError === true) throw new Error(`${tool} failed: ${text.slice(0, 500)}`);
    return text;
  }
}

function finish(calls: CallRecord[], t0: number, balance: string): TaskRecord {
  return { calls, ms: performance.now() - t0, balance };
}

/** (a) our `/mcp`: the session opens logged in; the agent never sees or types the password. */
export async function taskOurMcp(client: Client, assetId: string, password: string): Promise<TaskRecord> {
  const t = new McpTranscript(client, password);
  const t0 = performance.now();
  const opened = await t.call('open_session', { asset: assetId }, 'open');
  const session = sessionIdOf(opened);
  try {
    const accounts = await t.call('snapshot', { session }, 'snapshot');
    const balance = balanceOf(accounts);
    await t.call('click', { session, ref: refOf(accounts, 'link', 'Make a transfer') }, 'click');
    const form = await t.call('snapshot', { session }, 'snapshot');
    await t.call('type', { session, ref: refOf(form, 'textbox', 'To (IBAN)'), text: TRANSFER.iban }, 'type');
    await t.call('type', { session, ref: refOf(form, 'textbox', 'Amount (EUR)'), text: TRANSFER.amount }, 'type');
    await t.call('click', { session, ref: refOf(form, 'button', 'Send') }, 'click');
    const sent = await t.call('snapshot', { session }, 'snapshot');
    if (!SENT.test(sent)) throw new Error(`(a) the transfer was not confirmed:\n${sent.slice(0, 1000)}`);
    await t.call('close_session', { session }, 'close');
    return finish(t.calls, t0, balance);
  } catch (error) {
    await client.callTool({ name: 'close_session', arguments: { session } }).catch(() => undefined);
    throw error;
  }
}

/** The session id in open_session's answer (a UUID). */
export function sessionIdOf(text: string): string {
  const match = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i.exec(text);
  if (!match) throw new Error(`no session id in open_session's answer:\n${text.slice(0, 1000)}`);
  return match[0];
}

/** (b) `@playwright/mcp`: the agent navigates to the login page and types the username and password itself. */
export async function taskPlaywrightMcp(client: Client, portalUrl: string, credentials: { username: string; password: string }): Promise<TaskRecord> {
  const t = new McpTranscript(client, credentials.password);
  const t0 = performance.now();
  try {
    await t.call('browser_navigate', { url: `${portalUrl}/login` }, 'login');
    const login = await t.call('browser_snapshot', {}, 'login');
    await t.call('browser_type', { element: 'Username', target: refOf(login, 'textbox', 'Username'), text: credentials.username }, 'login');
    await t.call('browser_type', { element: 'Password', target: refOf(login, 'textbox', 'Password'), text: credentials.password }, 'login');
    await t.call('browser_click', { element: 'Sign in', target: refOf(login, 'button', 'Sign in') }, 'login');
    const accounts = await t.call('browser_snapshot', {}, 'snapshot');
    const balance = balanceOf(accounts);
    await t.call('browser_click', { element: 'Make a transfer', target: refOf(accounts, 'link', 'Make a transfer') }, 'click');
    const form = await t.call('browser_snapshot', {}, 'snapshot');
    await t.call('browser_type', { element: 'To (IBAN)', target: refOf(form, 'textbox', 'To (IBAN)'), text: TRANSFER.iban }, 'type');
    await t.call('browser_type', { element: 'Amount (EUR)', target: refOf(form, 'textbox', 'Amount (EUR)'), text: TRANSFER.amount }, 'type');
    await t.call('browser_click', { element: 'Send', target: refOf(form, 'button', 'Send') }, 'click');
    const sent = await t.call('browser_snapshot', {}, 'snapshot');
    if (!SENT.test(sent)) throw new Error(`(b) the transfer was not confirmed:\n${sent.slice(0, 1000)}`);
    await t.call('browser_close', {}, 'close');
    return finish(t.calls, t0, balance);
  } catch (error) {
    await client.callTool({ name: 'browser_close', arguments: {} }).catch(() => undefined);
    throw error;
  }
}

/**
 * (c) the floor: Playwright API calls on a warm browser, a new context per task. The same steps,
 * reading refs from the same kind of snapshot (`ariaSnapshot({ mode: 'ai' })`) and acting through
 * `aria-ref=` locators, as both MCP servers do; a click waits for the page it loads
 * (`domcontentloaded`), nothing else.
 */
export async function taskPlaywright(browser: Browser, portalUrl: string, credentials: { username: string; password: string }): Promise<TaskRecord> {
  const calls: CallRecord[] = [];
  const t0 = performance.now();
  const timed = async <T>(tool: string, step: Step, action: () => Promise<T>): Promise<T> => {
    const s = performance.now();
    const value = await action();
    calls.push({ tool, step, ms: performance.now() - s, resultBytes: 0, passwordInArgs: 0, passwordInResult: 0 });
    return value;
  };
  const context = await timed('newContext', 'login', () => browser.newContext({ viewport: { width: 1280, height: 720 } }));
  try {
    const page = await timed('newPage', 'login', () => context.newPage());
    const snapshot = () => page.ariaSnapshot({ mode: 'ai' });
    const clickAndLoad = async (ref: string) => {
      await page.locator(`aria-ref=${ref}`).click();
      await page.waitForLoadState('domcontentloaded');
    };
    await timed('goto', 'login', () => page.goto(`${portalUrl}/login`, { waitUntil: 'domcontentloaded' }));
    const login = await timed('ariaSnapshot', 'login', snapshot);
    await timed('fill', 'login', () => page.locator(`aria-ref=${refOf(login, 'textbox', 'Username')}`).fill(credentials.username));
    await timed('fill', 'login', () => page.locator(`aria-ref=${refOf(login, 'textbox', 'Password')}`).fill(credentials.password));
    await timed('click', 'login', () => clickAndLoad(refOf(login, 'button', 'Sign in')));
    const accounts = await timed('ariaSnapshot', 'snapshot', snapshot);
    const balance = balanceOf(accounts);
    await timed('click', 'click', () => clickAndLoad(refOf(accounts, 'link', 'Make a transfer')));
    const form = await timed('ariaSnapshot', 'snapshot', snapshot);
    await timed('fill', 'type', () => page.locator(`aria-ref=${refOf(form, 'textbox', 'To (IBAN)')}`).fill(TRANSFER.iban));
    await timed('fill', 'type', () => page.locator(`aria-ref=${refOf(form, 'textbox', 'Amount (EUR)')}`).fill(TRANSFER.amount));
    await timed('click', 'click', () => clickAndLoad(refOf(form, 'button', 'Send')));
    const sent = await timed('ariaSnapshot', 'snapshot', snapshot);
    if (!SENT.test(sent)) throw new Error(`(c) the transfer was not confirmed:\n${sent.slice(0, 1000)}`);
    await timed('close', 'close', () => context.close());
    return finish(calls, t0, balance);
  } finally {
    await context.close().catch(() => undefined);
  }
}
