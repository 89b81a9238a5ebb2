import { LineCounter, isMap, isScalar, isSeq, isPair, type Document, type Node } from 'yaml';

/** A path into the document, as segments: keys of mappings and indexes of lists. */
export type DocPath = readonly (string | number)[];

/** 1-based line and column. */
export interface SourcePosition {
  line: number;
  column: number;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/**
 * Renders a path the way users read it: `routes[0].match.path`, `services.users.versions["1"]`.
 *
 * @example formatDocPath(['routes', 0, 'match', 'path']) // 'routes[0].match.path'
 */
export function formatDocPath(path: DocPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (IDENTIFIER.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Converts a JSON pointer (ajv's `instancePath`) to segments, numbering list indexes by looking at `data`. */
export function pointerToDocPath(pointer: string, data: unknown): (string | number)[] {
  if (pointer === '') return [];
  const out: (string | number)[] = [];
  let node = data;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(node)) {
      const index = Number(seg);
      out.push(index);
      node = node[index];
    } else {
      out.push(seg);
      node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

/** Finds the line and column of document nodes, in the text as the user wrote it (before interpolation). */
export interface Locator {
  /**
   * Position of the node at `path`, or of its key with `key: true`. When the path does not exist
   * (a missing key), the deepest existing ancestor is used.
   */
  locate(path: DocPath, options?: { key?: boolean }): SourcePosition | undefined;
  /** Position of an offset in the parsed text. */
  positionOf(offset: number): SourcePosition;
}

/**
 * Creates a locator over a parsed document. `toSourceOffset` maps offsets in the parsed
 * (interpolated) text back to `source`.
 */
export function createLocator(
  doc: Document | undefined,
  source: string,
  toSourceOffset: (offset: number) => number,
): Locator {
  const lines = new LineCounter();
  lines.addNewLine(0);
  for (let i = source.indexOf('\n'); i !== -1; i = source.indexOf('\n', i + 1)) lines.addNewLine(i + 1);
  const positionOf = (offset: number): SourcePosition => {
    const { line, col } = lines.linePos(toSourceOffset(offset));
    return { line, column: col };
  };

  return {
    positionOf,
    locate(path, options) {
      if (doc === undefined) return undefined;
      let node: unknown = doc.contents;
      let best: Node | undefined = isNodeWithRange(node) ? node : undefined;
      for (let i = 0; i < path.length; i++) {
        const seg = path[i];
        const isLast = i === path.length - 1;
        if (isMap(node)) {
          const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
          if (pair === undefined) break;
          const keyNode = isNodeWithRange(pair.key) ? pair.key : undefined;
          if (isLast && options?.key === true && keyNode !== undefined) {
            best = keyNode;
            break;
          }
          node = pair.value;
          best = isNodeWithRange(node) ? node : (keyNode ?? best);
          if (!isNodeWithRange(node)) break;
        } else if (isSeq(node) && typeof seg === 'number') {
          node = node.items[seg];
          if (!isNodeWithRange(node)) break;
          best = node;
        } else {
          break;
        }
      }
      const start = best?.range?.[0];
      return start === undefined ? undefined : positionOf(start);
    },
  };
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return typeof key === 'string' ? key : undefined;
}

function isNodeWithRange(node: unknown): node is Node {
  return (isScalar(node) || isMap(node) || isSeq(node)) && node.range !== undefined && node.range !== null;
}
