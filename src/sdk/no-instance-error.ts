/** No passing instance of the service matches the version range (or the registry has not answered yet). */
export class NoInstanceError extends Error {
  readonly code = 'no_instance';
  readonly service: string;
  readonly range: string;

  constructor(service: string, range: string, why = 'no passing instance') {
    super(`${service}@${range}: ${why}`);
    this.name = 'NoInstanceError';
    this.service = service;
    this.range = range;
  }
}
