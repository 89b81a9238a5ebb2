/**
 * A called service answered with a status outside 2xx (after any retries). `body` is the parsed JSON answer
 * (a problem+json object when Portico or the service followed RFC 9457), or the raw text.
 */
export class ServiceCallError extends Error {
  readonly code = 'service_error';
  readonly service: string;
  readonly status: number;
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;

  constructor(
    service: string,
    status: number,
    body: unknown,
    headers: Readonly<Record<string, string | string[] | undefined>>,
  ) {
    super(`${service} answered ${status}`);
    this.name = 'ServiceCallError';
    this.service = service;
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}
