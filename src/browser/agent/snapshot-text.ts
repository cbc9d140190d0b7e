/**
 * Shaping of Playwright's AI-mode aria snapshot (`page.ariaSnapshot({ mode: 'ai' })`) for a model:
 * runs of sibling subtrees of the same shape are collapsed after the first few, noise
 * (`[cursor=pointer]`) is dropped, and the text is cut at line ends into pages with a cursor.
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

export function compactSnapshot(yaml: string): string {
  const lines = yaml.replace(/ \[cursor=pointer\]/g, '').split('\n').filter((l) => l.trim() !== '');
  const root: Node = { line: '', indent: -1, children: [] };
  const stack: Node[] = [root];
  for (const line of lines) {
    const indent = line.length - line.trimStart().length;
    const node: Node = { line, indent, children: [] };
    while (stack.length > 1 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    stack[stack.length - 1]!.children.push(node);
    stack.push(node);
  }
  const out: string[] = [];
  const emit = (nodes: Node[]) => {
    let i = 0;
    while (i < nodes.length) {
      const node = nodes[i]!;
      const shape = shapeOf(node);
      let run = 1;
      while (i + run < nodes.length && shapeOf(nodes[i + run]!) === shape) run++;
      const shown = run >= KEEP_REPEATED + 3 ? KEEP_REPEATED : run;
      for (let k = 0; k < shown; k++) {
        const n = nodes[i + k]!;
        out.push(n.line);
        emit(n.children);
      }
      if (shown < run) {
        const role = roleOf(node.line) || 'item';
        out.push(`${' '.repeat(node.indent)}- "... ${run - shown} more ${role} entries like the ones above (not shown)"`);
      }
      i += run;
    }
  };
  emit(root.children);
  return out.join('\n');
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
