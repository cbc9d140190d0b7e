/**
 * Shaping of Playwright's AI-mode aria snapshot (`page.ariaSnapshot({ mode: 'ai' })`) for a model:
 * wrappers that only group others give their place to their children, runs of sibling subtrees of
 * the same shape are collapsed after the first few, noise (`[cursor=pointer]`, refs of containers
 * no tool acts on) is dropped, and the text is cut at line ends into pages with a cursor.
 */

/** Siblings of one shape kept before the rest of the run is summarized. */
export const KEEP_REPEATED = 5;
export const DEFAULT_MAX_CHARS = 8_000;
export const MIN_MAX_CHARS = 500;
export const MAX_MAX_CHARS = 100_000;

interface Node {
  line: string;
  indent: number;
  children: Node[];
}

/**
 * Roles that only group others (landmarks, layout boxes): one without a
 * name, a text of its own or a pointer cursor gives its place to its children, and one with none of
 * those and no children is dropped. A third of a typical page's lines, and every line's indentation.
 */
const WRAPPERS = new Set(['generic', 'none', 'presentation', 'banner', 'main', 'contentinfo', 'complementary', 'navigation', 'region', 'group', 'rowgroup']);
/** A paragraph of one element gives way to it; one of several keeps them together ("Signed in as" and the name). */
const PARAGRAPH = 'paragraph';
/** Containers no tool acts on: their ref is dropped when they have no name, no text and no pointer cursor. */
const REFLESS = new Set(['list', 'listitem', 'table', 'row', PARAGRAPH]);
/** `- role [attr] [attr]` with an optional `:` (children follow): no name, no text of its own, no quoting. */
const UNNAMED = /^- ([a-z]+)((?: \[[^\]"]*\])*)(:?)$/;

export function compactSnapshot(yaml: string): string {
  const lines = yaml.split('\n').filter((l) => l.trim() !== '');
  const root: Node = { line: '', indent: -1, children: [] };
  const stack: Node[] = [root];
  for (const line of lines) {
    const indent = line.length - line.trimStart().length;
    const node: Node = { line: line.trim(), indent, children: [] };
    while (stack.length > 1 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    stack[stack.length - 1]!.children.push(node);
    stack.push(node);
  }
  const out: string[] = [];
  const emit = (nodes: Node[], depth: number) => {
    const pad = '  '.repeat(depth);
    let i = 0;
    while (i < nodes.length) {
      const node = nodes[i]!;
      const shape = shapeOf(node);
      let run = 1;
      while (i + run < nodes.length && shapeOf(nodes[i + run]!) === shape) run++;
      const shown = run >= KEEP_REPEATED + 3 ? KEEP_REPEATED : run;
      for (let k = 0; k < shown; k++) {
        const n = nodes[i + k]!;
        out.push(pad + n.line);
        emit(n.children, depth + 1);
      }
      if (shown < run) {
        const role = roleOf(node.line) || 'item';
        out.push(`${pad}- "... ${run - shown} more ${role} entries like the ones above (not shown)"`);
      }
      i += run;
    }
  };
  emit(simplify(root.children), 0);
  return out.join('\n');
}

function simplify(nodes: Node[]): Node[] {
  const out: Node[] = [];
  for (const node of nodes) {
    const children = simplify(node.children);
    const pointer = node.line.includes(' [cursor=pointer]');
    const line = pointer ? node.line.replace(/ \[cursor=pointer\]/g, '') : node.line;
    const unnamed = UNNAMED.exec(line);
    // Only a wrapper whose states are none of its children's business ([disabled] on a fieldset is).
    const wrapper = unnamed !== null && (WRAPPERS.has(unnamed[1]!) || (unnamed[1] === PARAGRAPH && children.length <= 1));
    if (wrapper && !pointer && unnamed[2]!.replace(/ \[(?:ref=[^\]]*|active)\]/g, '') === '') {
      out.push(...children);
      continue;
    }
    const refless = unnamed && !pointer && REFLESS.has(unnamed[1]!) ? line.replace(/ \[ref=[^\]]*\]/, '') : line;
    out.push({ line: refless, indent: node.indent, children });
  }
  return out;
}

/** A subtree's skeleton: roles and nesting, without names, values or refs. */
const shapes = new WeakMap<Node, string>();
function shapeOf(node: Node): string {
  let shape = shapes.get(node);
  if (shape === undefined) {
    shape = `${roleOf(node.line)}(${node.children.map(shapeOf).join(',')})`;
    shapes.set(node, shape);
  }
  return shape;
}

function roleOf(line: string): string {
  const match = /^\s*-\s*("?)([^\s":[]+)/.exec(line);
  return match ? (match[1] ? 'text' : match[2]!) : '';
}

/** `textbox "Amount"` for the line of `ref`: role and accessible name, never the value after the colon. */
export function describeRef(yaml: string, ref: string): string | undefined {
  const at = yaml.indexOf(`[ref=${ref}]`);
  if (at === -1) return undefined;
  const start = yaml.lastIndexOf('\n', at) + 1;
  const head = yaml.slice(start, at).trim().replace(/^-\s*/, '');
  // Role, then the quoted name if any; states such as [active] or [level=1] dropped.
  const match = /^([^\s"[]+)(\s+"(?:[^"\\]|\\.)*")?/.exec(head);
  return match ? `${match[1]}${match[2] ?? ''}`.slice(0, 200) : undefined;
}

/** The page of `text` that starts at `offset`: cut at a line end so it fits `maxChars`. */
export function pageOf(text: string, offset: number, maxChars: number): { text: string; next?: number } {
  if (text.length - offset <= maxChars) return { text: text.slice(offset) };
  let end = text.lastIndexOf('\n', offset + maxChars);
  if (end <= offset) end = offset + maxChars;
  return { text: text.slice(offset, end), next: text[end] === '\n' ? end + 1 : end };
}
