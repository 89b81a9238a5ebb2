import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { applyHeaderEdit, type HeaderEdit } from '../../policies/header-edit.ts';

const kEdit = Symbol('portico.responseHeaderEdit');
const kWriteHead = Symbol('portico.writeHead');

type WriteHead = ServerResponse['writeHead'];
type AnyWriteHead = (this: ServerResponse, status: number, ...rest: unknown[]) => ServerResponse;
type HeaderArgument = OutgoingHttpHeaders | readonly string[] | undefined;
type EditedResponse = ServerResponse & { [kEdit]: HeaderEdit; [kWriteHead]: WriteHead };

/**
 * Applies a header transform to whatever answer the route gives: the proxy writes a flat list, the gateway's
 * own answers (problems, fallbacks, aggregates) an object, and an answer without `writeHead` goes through it
 * implicitly, so intercepting `writeHead` on this response covers them all without touching any terminal.
 * The interceptor is one shared function (no closure per request); only routes with a response transform
 * pay for it.
 */
export function editResponseHeaders(res: ServerResponse, edit: HeaderEdit): void {
  const edited = res as EditedResponse;
  edited[kEdit] = edit;
  edited[kWriteHead] = res.writeHead;
  res.writeHead = editedWriteHead as WriteHead;
}

function editedWriteHead(
  this: EditedResponse,
  status: number,
  reasonOrHeaders?: string | HeaderArgument,
  maybeHeaders?: HeaderArgument,
): ServerResponse {
  const reason = typeof reasonOrHeaders === 'string' ? reasonOrHeaders : undefined;
  const given = typeof reasonOrHeaders === 'string' ? maybeHeaders : reasonOrHeaders;
  const edit = this[kEdit];
  // Headers set earlier with setHeader (CORS) are merged by Node after this list: remove them here.
  for (const name of edit.drop) if (!edit.renames.has(name) && this.hasHeader(name)) this.removeHeader(name);
  const list = toFlatList(given);
  applyHeaderEdit(list, edit);
  const writeHead = this[kWriteHead] as AnyWriteHead;
  return reason === undefined
    ? writeHead.call(this, status, list)
    : writeHead.call(this, status, reason, list);
}

function toFlatList(headers: HeaderArgument): string[] {
  if (headers === undefined) return [];
  if (Array.isArray(headers)) return headers.slice() as string[];
  const list: string[] = [];
  for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) list.push(name, item);
    else list.push(name, String(value));
  }
  return list;
}
