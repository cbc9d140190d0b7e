import { createHash, createPublicKey, verify } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import {
  AUDIT_ACTIONS,
  OUTCOMES,
  canonicalEventText,
  chainHash,
  createCheckpointVerifier,
  type CheckpointRecord,
} from '../../src/audit/index.js';
import { describeCliError, EXIT } from '../../src/cli/exit-codes.js';
import { helpText } from '../../src/cli/help.js';
import { LOADER_VARIABLES, SETTINGS, loadConfig } from '../../src/config/index.js';
import { AppError, ERROR_CODES, canonicalJson, type ErrorCode } from '../../src/core/index.js';

// The registries (settings, error codes, audit actions) each live in one file; the docs are
// written by hand for operators and auditors. These tests keep the two equal in both
// directions, and check that the worked examples in the docs are what the code computes.

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const docsDir = join(repo, 'docs');
const readDoc = (name: string): string => readFileSync(join(docsDir, name), 'utf8');

/** Cells of the first table in the section `## heading`, without its header and separator rows. */
function tableUnder(markdown: string, heading: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.trim() === `## ${heading}`);
  if (start === -1) throw new Error(`section "## ${heading}" not found`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^##? /.test(line)) break;
    if (line.startsWith('|')) rows.push(splitRow(line));
    else if (rows.length > 0) break;
  }
  if (rows.length < 3) throw new Error(`no table rows under "## ${heading}"`);
  return rows.slice(2);
}

function splitRow(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim());
}

/** The code spans of a cell, in order: "`PORT`, `PORT_FILE`" gives ['PORT', 'PORT_FILE']. */
function codeSpans(cell: string | undefined): string[] {
  return [...(cell ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

/** Fenced blocks that carry an id in their info string: ```json id=canonical-event */
function fencedBlocks(markdown: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const m of markdown.matchAll(/^```\w* id=([\w-]+)\n([\s\S]*?)\n```$/gm)) blocks.set(m[1]!, m[2]!);
  return blocks;
}

/** The fenced blocks of one language inside the section `## heading`. */
function codeBlocksUnder(markdown: string, heading: string, lang: string): string[] {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start === -1) throw new Error(`section "## ${heading}" not found`);
  const next = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, next === -1 ? undefined : next);
  return [...section.matchAll(new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)\\n\`\`\`$`, 'gm'))].map((m) => m[1]!);
}

const secretSettings = SETTINGS.filter((s) => s.secret);
const KNOWN_VARIABLES = new Set([
  ...SETTINGS.map((s) => s.env),
  ...secretSettings.map((s) => `${s.env}_FILE`),
  ...LOADER_VARIABLES.map((v) => v.env),
]);
const YAML_KEYS = new Set([...SETTINGS.map((s) => s.key), ...secretSettings.map((s) => `${s.key}File`)]);

describe('docs/configuration.md and webasset --help', () => {
  const doc = readDoc('configuration.md');
  const rows = tableUnder(doc, 'Settings');

  it('documents every setting, and only those, with its variable, YAML key and default', () => {
    expect(rows.map((r) => codeSpans(r[0])[0])).toEqual(SETTINGS.map((s) => s.env));
    for (const s of SETTINGS) {
      const row = rows.find((r) => codeSpans(r[0])[0] === s.env)!;
      const [envCell, keyCell, defaultCell] = row;
      expect(codeSpans(envCell), s.env).toEqual(s.secret ? [s.env, `${s.env}_FILE`] : [s.env]);
      expect(envCell!.includes('(secret)'), `${s.env} marked secret`).toBe(s.secret);
      expect(codeSpans(keyCell), s.env).toEqual(s.secret ? [s.key, `${s.key}File`] : [s.key]);
      if (s.defaultText === undefined) expect(defaultCell, s.env).toBe('unset');
      else expect(codeSpans(defaultCell), s.env).toEqual([s.defaultText]);
    }
  });

  it('documents every variable of the loader, and only those', () => {
    const loaderRows = tableUnder(doc, 'Other variables');
    expect(loaderRows.map((r) => codeSpans(r[0])[0]).sort()).toEqual(LOADER_VARIABLES.map((v) => v.env).sort());
  });

  it('lists every setting, its _FILE form for secrets, and every loader variable in the help text', () => {
    const help = helpText();
    for (const s of SETTINGS) {
      expect(help, s.env).toMatch(new RegExp(`^  ${s.env}\\b`, 'm'));
      if (s.secret) expect(help, s.env).toContain(`${s.env} (or ${s.env}_FILE)`);
      else expect(help, s.env).not.toContain(`${s.env}_FILE`);
    }
    for (const v of LOADER_VARIABLES) expect(help, v.env).toMatch(new RegExp(`^  ${v.env}\\b`, 'm'));
  });

  it('has an example webasset.yaml that uses only real keys and loads', () => {
    const [example] = codeBlocksUnder(doc, 'Example `webasset.yaml`', 'yaml');
    const values = parseYaml(example!) as Record<string, unknown>;
    for (const key of Object.keys(values)) expect(YAML_KEYS.has(key), `unknown key ${key}`).toBe(true);
    // Load it for real, with the secret files left out (they name paths of a production host).
    const dir = mkdtempSync(join(tmpdir(), 'webasset-docs-'));
    try {
      const withoutFiles = Object.fromEntries(Object.entries(values).filter(([key]) => !key.endsWith('File')));
      writeFileSync(join(dir, 'webasset.yaml'), stringifyYaml(withoutFiles));
      const { config } = loadConfig({ env: {}, cwd: dir });
      expect(config.nodeId).toBe(values.nodeId);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses only real variables in the Docker example', () => {
    const [compose] = codeBlocksUnder(doc, 'Docker secrets with `_FILE`', 'yaml');
    const parsed = parseYaml(compose!) as { services: Record<string, { environment: Record<string, string> }> };
    const names = Object.values(parsed.services).flatMap((s) => Object.keys(s.environment));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(KNOWN_VARIABLES.has(name), `unknown variable ${name}`).toBe(true);
  });
});

describe('WEBASSET_ names across docs/', () => {
  // Names the docs use on purpose as examples of what the loader refuses.
  const REFUSED_EXAMPLES = new Set(['WEBASSET_FOO', 'WEBASSET_DATA_DIR_FILE']);

  it('are all real variables (an unknown WEBASSET_ variable stops the start)', () => {
    for (const file of markdownFiles(docsDir)) {
      const text = readFileSync(file, 'utf8');
      for (const [name] of text.matchAll(/\bWEBASSET_[A-Z0-9_]*[A-Z0-9]\b/g)) {
        if (REFUSED_EXAMPLES.has(name)) continue;
        expect(KNOWN_VARIABLES.has(name), `${relative(repo, file)}: ${name}`).toBe(true);
      }
    }
  });
});

describe('docs/errors.md', () => {
  const doc = readDoc('errors.md');
  const rows = tableUnder(doc, 'Codes').map((r) => ({ code: codeSpans(r[0])[0], status: r[1], exit: r[2] }));

  it('documents every error code, and only those', () => {
    expect(rows.map((r) => r.code).sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('gives each code the HTTP status of the catalog', () => {
    for (const { code, status } of rows) {
      expect(Number(status), code).toBe(ERROR_CODES[code as ErrorCode].status);
    }
  });

  it('gives each code the exit status the CLI returns for it', () => {
    for (const { code, exit } of rows) {
      expect(Number(exit), code).toBe(describeCliError(new AppError(code as ErrorCode)).code);
    }
  });

  it('documents every CLI exit code, and only those', () => {
    const exits = tableUnder(doc, 'CLI exit codes').map((r) => Number(r[0]));
    expect(exits.sort()).toEqual(Object.values(EXIT).sort());
  });
});

describe('docs/audit-events.md', () => {
  const doc = readDoc('audit-events.md');
  const blocks = fencedBlocks(doc);

  it('documents every audit action, and only those', () => {
    const rows = tableUnder(doc, 'Actions');
    expect(rows.map((r) => codeSpans(r[0])[0]).sort()).toEqual(Object.keys(AUDIT_ACTIONS).sort());
    for (const row of rows) {
      const outcomes = row[1]!.split(/\s+or\s+/);
      for (const outcome of outcomes) expect(OUTCOMES, `${row[0]}: ${outcome}`).toContain(outcome);
    }
  });

  it('has a worked hash example that an independent SHA-256 and the product both reproduce', () => {
    const text = blocks.get('canonical-event')!;
    const hash = blocks.get('event-hash')!;
    // As the doc defines it: SHA-256 over 32 zero bytes (genesis) then the UTF-8 text.
    expect(createHash('sha256').update(Buffer.alloc(32)).update(text, 'utf8').digest('hex')).toBe(hash);
    // The canonical text is canonical JSON of the event object.
    expect(canonicalJson(JSON.parse(text))).toBe(text);
    // And it is exactly what the product hashes for that event.
    const e = JSON.parse(text) as DocEvent;
    const prepared = {
      id: e.id,
      timeMs: Date.parse(e.time),
      actorKind: e.actor.kind,
      actorId: e.actor.id,
      actorName: e.actor.name,
      action: e.action,
      targetKind: e.target?.kind ?? null,
      targetId: e.target?.id ?? null,
      outcome: e.outcome,
      sourceIp: e.sourceIp,
      userAgent: e.userAgent,
      requestId: e.requestId,
      nodeId: e.nodeId,
      details: canonicalJson(e.details),
    };
    expect(canonicalEventText(prepared, e.seq)).toBe(text);
    expect(chainHash('0'.repeat(64), text)).toBe(hash);
  });

  it('has a worked checkpoint example whose payload, key id and signature verify', () => {
    const publicKey = blocks.get('checkpoint-public-key')!;
    const payload = blocks.get('checkpoint-payload')!;
    const record = JSON.parse(blocks.get('checkpoint-record')!) as CheckpointRecord;
    const raw = Buffer.from(publicKey, 'base64');
    expect(record.hash).toBe(blocks.get('event-hash'));
    expect(createHash('sha256').update(raw).digest('hex').slice(0, 16)).toBe(record.keyId);
    const { signature: _signature, ...fields } = record;
    expect(canonicalJson({ type: 'webasset.audit.checkpoint.v1', ...fields })).toBe(payload);
    // Independent check with node:crypto: raw Ed25519 key wrapped in its SPKI header (RFC 8410).
    const spki = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]), format: 'der', type: 'spki' });
    expect(verify(null, Buffer.from(payload, 'utf8'), spki, Buffer.from(record.signature, 'base64'))).toBe(true);
    expect(createCheckpointVerifier([publicKey]).check(record)).toBe('ok');
  });
});

describe('links between docs', () => {
  it('point at files and headings that exist', () => {
    for (const file of markdownFiles(docsDir)) {
      const text = readFileSync(file, 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue;
        const [path, anchor] = target!.split('#') as [string, string | undefined];
        const linked = path === '' ? file : resolve(dirname(file), path);
        const where = `${relative(repo, file)} -> ${target}`;
        expect(existsSync(linked), where).toBe(true);
        if (anchor) expect(headingSlugs(readFileSync(linked, 'utf8')), where).toContain(anchor);
      }
    }
  });
});

interface DocEvent {
  seq: number;
  id: string;
  time: string;
  actor: { kind: 'user' | 'agent' | 'system'; id: string; name: string | null };
  action: string;
  target: { kind: string; id: string } | null;
  outcome: 'success' | 'failure' | 'denied';
  sourceIp: string | null;
  userAgent: string | null;
  requestId: string | null;
  nodeId: string;
  details: Record<string, unknown>;
}

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && d.name.endsWith('.md'))
    .map((d) => join(d.parentPath, d.name));
}

/** GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens. */
function headingSlugs(markdown: string): string[] {
  const withoutCode = markdown.replace(/^```[\s\S]*?^```$/gm, '');
  return [...withoutCode.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
    m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-'),
  );
}
