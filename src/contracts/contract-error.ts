/** An OpenAPI document that Portico cannot use, with the place in the document that is wrong. */
export class ContractError extends Error {
  /** Dotted path inside the document ('' for the whole document). */
  readonly location: string;

  constructor(message: string, location: string) {
    super(location === '' ? message : `${location}: ${message}`);
    this.name = 'ContractError';
    this.location = location;
  }
}
