import { errorCatalog, type ErrorCode } from './catalog.ts';

/** An error the gateway answers itself, as RFC 9457 problem+json with a stable `code`. */
export class PorticoError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;
  readonly extra: Record<string, unknown> | undefined;
  /** Response headers sent with the problem (WWW-Authenticate, Retry-After, …). */
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(
    code: ErrorCode,
    detail?: string,
    extra?: Record<string, unknown>,
    options?: ErrorOptions & { headers?: Readonly<Record<string, string>> },
  ) {
    super(detail ?? errorCatalog[code].title, options);
    this.name = 'PorticoError';
    this.code = code;
    this.status = errorCatalog[code].status;
    this.detail = detail;
    this.extra = extra;
    this.headers = options?.headers;
  }

  get retryable(): boolean {
    return errorCatalog[this.code].retryable;
  }
}
