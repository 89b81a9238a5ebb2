/* global fetch, TextDecoderStream */

/** The admin API answered 401: the page needs a (new) token. */
export class Unauthorized extends Error {
  constructor() {
    super('the admin token is missing or was refused');
    this.name = 'Unauthorized';
  }
}

/**
 * Follows a server-sent event stream with fetch, because EventSource cannot send an Authorization header.
 * Resolves when the server ends the stream, rejects on a network error or a refused token; `signal` stops it.
 * Frames are parsed as the SSE format says: `id:`, `event:`, one or more `data:` lines, comments start with `:`.
 *
 * @param {string} url
 * @param {Record<string, string>} headers
 * @param {AbortSignal} signal
 * @param {{ onOpen(): void, onEvent(frame: { id: string | undefined, event: string, data: string }): void,
 *   onId(id: string): void }} handlers
 */
export async function followEventStream(url, headers, signal, handlers) {
  const res = await fetch(url, {
    headers: { ...headers, accept: 'text/event-stream' },
    signal,
    cache: 'no-store',
  });
  if (res.status === 401) throw new Unauthorized();
  if (!res.ok || res.body === null) throw new Error(`watch answered ${res.status}`);
  handlers.onOpen();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.includes('\r') ? value.replace(/\r\n?/g, '\n') : value;
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      parseFrame(buffer.slice(0, end), handlers);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
    }
  }
}

function parseFrame(frame, handlers) {
  let id;
  let event = 'message';
  let data;
  for (const line of frame.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data = data === undefined ? value : `${data}\n${value}`;
  }
  if (data !== undefined) handlers.onEvent({ id, event, data });
  else if (id !== undefined) handlers.onId(id);
}
