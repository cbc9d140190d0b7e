import { z } from 'zod';
import { CREDENTIAL_FIELDS } from '../browser/index.js';
import type { RequestContext } from '../access/index.js';
import type { Principal } from '../identity/index.js';
import type { SessionRecord } from '../sessions/index.js';
import type { AgentActionResult, AgentHandle, McpAccess, McpSessions } from './ports.js';
import { actionText, pageLines, text, untrusted, type ToolResult } from './results.js';
import type { ToolName } from './tool-names.js';

/** What a tool's run gets: the caller, the request's facts, and for a session tool the owner's handle. */
export interface ToolRun<A> {
  principal: Principal;
  context: RequestContext;
  args: A;
  handle: AgentHandle | null;
  sessions: McpSessions;
  access: McpAccess;
}

/** What a tool's run gives back: the result, a summary for the session's recording, and what the audit needs. */
export interface ToolOutput {
  result: ToolResult;
  /** Recorded as the session's `tool` event (never a secret: typed text only for non-password fields). */
  summary: string;
  /** The session acted on (open_session: the one it opened). */
  session?: string | undefined;
  /** For `type`: the field typed into (a password field's text is masked in the audit record). */
  field?: 'password' | 'text' | undefined;
}

/** A tool as data: name, static description, input schema, whether it acts on a session, and its run. */
export interface ToolDefinition<S extends z.ZodObject = z.ZodObject> {
  name: ToolName;
  description: string;
  input: S;
  /** Session tools take `session` and run on the owner's handle. */
  onSession: boolean;
  /**
   * Reads only (MCP annotation readOnlyHint). A tool that is not read-only acts (on the page, the
   * session or the vault): its call is audited (`mcp.tool_started`) before it runs, and refused if that fails.
   */
  readOnly: boolean;
  run(run: ToolRun<z.output<S>>): Promise<ToolOutput>;
}

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const session = z.string().regex(SESSION_ID, 'expected a session id (from open_session or list_sessions)').describe('The session id, from open_session or list_sessions.');
const ref = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,32}$/, 'expected an element ref such as e12, from the latest snapshot')
  .describe('The element ref from the latest snapshot, e.g. e12.');

/** Largest wait of wait_for, in seconds (the browser caps it at 30 s too). */
export const MAX_WAIT_SECONDS = 30;

function tool<S extends z.ZodObject>(definition: ToolDefinition<S>): ToolDefinition {
  return definition;
}

function act(name: string, result: AgentActionResult, keepPage = false): string {
  return actionText(name, result, keepPage);
}

function summaryOf(verb: string, result: AgentActionResult, extra = ''): string {
  return `${verb}${result.target ? ` ${result.target}` : ''}${extra}: ${result.effect}${result.fileChooserDismissed ? ' (file chooser dismissed)' : ''}, ${result.page.url}`;
}

function sessionLine(record: SessionRecord): string {
  const ended = record.state === 'ended' ? ` (${record.endReason ?? 'ended'}${record.endMessage ? `: ${record.endMessage}` : ''})` : '';
  return `- ${record.id}  asset ${record.assetId}  ${record.state}${ended}  started ${record.createdAt}`;
}

function need(handle: AgentHandle | null): AgentHandle {
  if (!handle) throw new TypeError('a session tool ran without its session handle');
  return handle;
}

/** The tools, in the order they are listed. Names and schemas are a contract with agents: never renamed. */
export const TOOLS: readonly ToolDefinition[] = [
  tool({
    name: 'list_assets',
    description: 'List the portals (assets) you may open a session on, with whether each is available now.',
    input: z.object({}).strict(),
    onSession: false,
    readOnly: true,
    async run({ principal, access }) {
      const assets = await access.visibleAssets(principal, 'connect');
      const lines = assets.map((a) => `- ${a.id}  ${a.name}  ${a.url}${a.available ? '' : `  (unavailable now: ${a.reason ?? 'not allowed now'})`}`);
      return { result: text(lines.length === 0 ? 'No assets: none is granted to you.' : `Assets you may open (id, name, address):\n${lines.join('\n')}`), summary: 'list_assets' };
    },
  }),
  tool({
    name: 'open_session',
    description:
      'Open a governed browser session on an asset: the gateway logs in for you (you never see or type its password) and the session is recorded. Returns the session id; then call snapshot.',
    input: z.object({ asset: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected an asset id from list_assets').describe('The asset id, from list_assets.') }).strict(),
    onSession: false,
    readOnly: false,
    async run({ principal, context, sessions, args }) {
      const record = await sessions.start(principal, args.asset, context);
      return {
        result: text(`Session ${record.id} on asset ${record.assetId} is ${record.state}, logged in. Call snapshot with this session id to see the page.`),
        summary: `open_session ${record.assetId}`,
        session: record.id,
      };
    },
  }),
  tool({
    name: 'list_sessions',
    description: 'List your browser sessions, newest first, with their state (active or ended, and why).',
    input: z.object({}).strict(),
    onSession: false,
    readOnly: true,
    async run({ principal, context, sessions }) {
      const records = await sessions.list(principal, {}, context);
      const shown = records.slice(0, 50);
      return {
        result: text(shown.length === 0 ? 'You have no sessions.' : `Your sessions (id, asset, state, start):\n${shown.map(sessionLine).join('\n')}`),
        summary: 'list_sessions',
      };
    },
  }),
  tool({
    name: 'close_session',
    description: 'End one of your sessions: the browser context is closed and its recording sealed.',
    input: z.object({ session }).strict(),
    onSession: false,
    readOnly: false,
    async run({ principal, context, sessions, args }) {
      const record = await sessions.end(args.session, principal, {}, context);
      return { result: text(`Session ${record.id} ended.`), summary: 'close_session', session: record.id };
    },
  }),
  tool({
    name: 'snapshot',
    description:
      'The page of a session as an accessibility tree with element refs ([ref=e12]) to pass to click, type and the other tools. Long pages are cut; pass the cursor it gives to read on.',
    input: z.object({ session, cursor: z.string().max(200).optional().describe('From an earlier snapshot that was cut: where to continue.') }).strict(),
    onSession: true,
    readOnly: true,
    async run({ handle, args }) {
      const h = need(handle);
      const snap = await h.controls.snapshot({ redact: h.redact, ...(args.cursor === undefined ? {} : { cursor: args.cursor }) });
      const more = snap.cursor === undefined ? '' : `\nThe snapshot was cut here: call snapshot with cursor "${snap.cursor}" for the rest.`;
      // The session id is the agent's own argument: not repeated here, where every byte is read again and again.
      const tabs = snap.tabs > 1 ? `${snap.tabs} tabs open; this is the active one.\n` : '';
      return { result: text(`${tabs}${untrusted(`${pageLines(snap.page)}\n\n${snap.text}`)}${more}`), summary: `snapshot ${snap.page.url}` };
    },
  }),
  tool({
    name: 'click',
    description: 'Click an element of the latest snapshot; returns once the page has settled.',
    input: z.object({ session, ref }).strict(),
    onSession: true,
    readOnly: false,
    async run({ handle, args }) {
      const h = need(handle);
      const result = await h.controls.click(args.ref, { redact: h.redact });
      return { result: text(act(`Clicked ${args.ref}`, result)), summary: summaryOf(`click ${args.ref}`, result) };
    },
  }),
  tool({
    name: 'type',
    description: 'Type text into a field of the latest snapshot (replacing what it holds); with submit, press Enter after.',
    input: z
      .object({
        session,
        ref,
        text: z.string().max(10_000).describe('The text to type.'),
        submit: z.boolean().optional().describe('Press Enter after typing.'),
      })
      .strict(),
    onSession: true,
    readOnly: false,
    async run({ handle, args }) {
      const h = need(handle);
      const result = await h.controls.type(args.ref, args.text, { redact: h.redact, ...(args.submit === undefined ? {} : { submit: args.submit }) });
      const typed = result.field === 'text' ? ` "${args.text.slice(0, 100)}"` : ' [MASKED]';
      return {
        result: text(act(`Typed into ${args.ref}${args.submit ? ' and pressed Enter' : ''}`, result)),
        summary: summaryOf(`type ${args.ref}`, result, typed),
        field: result.field,
      };
    },
  }),
  tool({
    name: 'select_option',
    description: 'Choose one or more options of a select element of the latest snapshot, by value or label.',
    input: z.object({ session, ref, values: z.array(z.string().max(500)).min(1).max(50).describe('Values or labels of the options to select.') }).strict(),
    onSession: true,
    readOnly: false,
    async run({ handle, args }) {
      const h = need(handle);
      const result = await h.controls.selectOption(args.ref, args.values, { redact: h.redact });
      return { result: text(act(`Selected in ${args.ref}`, result)), summary: summaryOf(`select_option ${args.ref}`, result) };
    },
  }),
  tool({
    name: 'press_key',
    description: 'Press a key in the session, e.g. Enter, Tab, Escape, ArrowDown.',
    input: z.object({ session, key: z.string().regex(/^[A-Za-z0-9+]{1,40}$/, 'expected a key name such as Enter, Tab or ArrowDown').describe('The key, e.g. Enter.') }).strict(),
    onSession: true,
    readOnly: false,
    async run({ handle, args }) {
      const h = need(handle);
      const result = await h.controls.pressKey(args.key, { redact: h.redact });
      return { result: text(act(`Pressed ${args.key}`, result)), summary: summaryOf(`press_key ${args.key}`, result) };
    },
  }),
  tool({
    name: 'hover',
    description: 'Move the mouse over an element of the latest snapshot (menus that open on hover).',
    input: z.object({ session, ref }).strict(),
    onSession: true,
    readOnly: false,
    async run({ handle, args }) {
      const h = need(handle);
      const result = await h.controls.hover(args.ref, { redact: h.redact });
      return { result: text(act(`Hovered ${args.ref}`, result)), summary: summaryOf(`hover ${args.ref}`, result) };
    },
  }),
  tool({
    name: 'navigate',
    description: "Open a URL in the session. Only the asset's allowed hosts can be opened; anything else is refused and recorded.",
    input: z.object({ session, url: z.string().min(1).max(2048).describe('An http(s) URL on one of the asset\'s hosts.') }).strict(),
    onSession: true,
    readOnly: false,
    async run({ handle, args }) {
      const h = need(handle);
      const result = await h.controls.navigate(args.url, { redact: h.redact });
      return { result: text(act('Navigated', result)), summary: summaryOf('navigate', result) };
    },
  }),
  tool({
    name: 'go_back',
    description: 'Go back to the previous page of the session.',
    input: z.object({ session }).strict(),
    onSession: true,
    readOnly: false,
    async run({ handle }) {
      const h = need(handle);
      const result = await h.controls.goBack({ redact: h.redact });
      return { result: text(act('Went back', result)), summary: summaryOf('go_back', result) };
    },
  }),
  tool({
    name: 'wait_for',
    description: 'Wait until a text appears on the page, an element ref exists, or the URL matches (substring or glob); give exactly one of text, ref, url.',
    input: z
      .object({
        session,
        text: z.string().min(1).max(500).optional().describe('Text to wait for on the page.'),
        ref: ref.optional(),
        url: z.string().min(1).max(2048).optional().describe('URL substring or glob to wait for.'),
        timeout: z.number().positive().max(MAX_WAIT_SECONDS).optional().describe(`Seconds to wait, at most ${MAX_WAIT_SECONDS}; default 5.`),
      })
      .strict()
      .refine((v) => [v.text, v.ref, v.url].filter((x) => x !== undefined).length === 1, { message: 'give exactly one of text, ref, url' }),
    onSession: true,
    readOnly: true,
    async run({ handle, args }) {
      const h = need(handle);
      const condition = args.text !== undefined ? { text: args.text } : args.ref !== undefined ? { ref: args.ref } : { url: args.url! };
      const result = await h.controls.waitFor(condition, Math.round((args.timeout ?? 5) * 1000), { redact: h.redact });
      return { result: text(act('The condition was met', result, true)), summary: summaryOf(`wait_for ${Object.keys(condition)[0]!}`, result) };
    },
  }),
  tool({
    name: 'screenshot',
    description: 'A JPEG of the visible part of the page (password fields masked). Prefer snapshot to read or act; use this to see layout.',
    input: z.object({ session }).strict(),
    onSession: true,
    readOnly: true,
    async run({ handle }) {
      const h = need(handle);
      const shot = await h.controls.screenshot({ redact: h.redact });
      return {
        result: {
          content: [
            { type: 'image', data: shot.jpeg.toString('base64'), mimeType: 'image/jpeg' },
            { type: 'text', text: `Screenshot of session ${h.record.id}, ${shot.width}x${shot.height}.\n${untrusted(pageLines(shot.page))}` },
          ],
        },
        summary: `screenshot ${shot.page.url}`,
      };
    },
  }),
  tool({
    name: 'fill_credential',
    description:
      "Type the asset's stored username, password or current one-time code (totp) into a field of the latest snapshot, for portals that ask again mid-session. The value never reaches you: the answer is only 'filled', and the field shows [REDACTED] from then on.",
    input: z
      .object({
        session,
        ref,
        field: z.enum(CREDENTIAL_FIELDS).describe('username, password (only into a password field) or totp (the current one-time code).'),
      })
      .strict(),
    onSession: true,
    readOnly: false,
    async run({ handle, context, args }) {
      const h = need(handle);
      await h.fillCredential(args.ref, args.field, context);
      return { result: text('filled'), summary: `fill_credential ${args.field} into ${args.ref}`, field: 'password' };
    },
  }),
];
