/** One server-sent event (WHATWG HTML §9.2.6): `id` is the last `id:` seen, as the spec keeps it across events. */
export interface SseEvent {
  readonly id: string | undefined;
  readonly event: string;
  readonly data: string;
}

/**
 * Incremental parser of a `text/event-stream`: feed it decoded text as it arrives, get whole events back.
 * An `id:` line without data (Portico's keep-alive after filtered changes) moves `lastEventId` without
 * producing an event, so a reconnect resumes past what was filtered out.
 *
 * @example
 * const parser = new SseParser();
 * for (const event of parser.push('id: 3\nevent: upsert\ndata: {}\n\n')) handle(event);
 * parser.lastEventId; // '3'
 */
export class SseParser {
  #buffer = '';
  #event = '';
  #data: string[] = [];
  #lastEventId: string | undefined = undefined;

  /** The id a reconnect sends as `Last-Event-ID`. */
  get lastEventId(): string | undefined {
    return this.#lastEventId;
  }

  /** Parses `text` and returns the events it completed. */
  push(text: string): SseEvent[] {
    this.#buffer += text;
    const events: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const newline = this.#buffer.indexOf('\n', start);
      if (newline === -1) break;
      let line = this.#buffer.slice(start, newline);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      start = newline + 1;
      const event = this.#line(line);
      if (event !== undefined) events.push(event);
    }
    this.#buffer = this.#buffer.slice(start);
    return events;
  }

  /** Forgets a half-received event (the connection dropped); keeps the last id. */
  reset(): void {
    this.#buffer = '';
    this.#event = '';
    this.#data = [];
  }

  #line(line: string): SseEvent | undefined {
    if (line === '') {
      if (this.#data.length === 0) {
        this.#event = '';
        return undefined;
      }
      const event: SseEvent = {
        id: this.#lastEventId,
        event: this.#event || 'message',
        data: this.#data.join('\n'),
      };
      this.#event = '';
      this.#data = [];
      return event;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#event = value;
    else if (field === 'id' && !value.includes('\0')) this.#lastEventId = value;
    return undefined;
  }
}
