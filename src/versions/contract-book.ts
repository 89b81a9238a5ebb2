import type { Logger } from '../observability/logger.ts';
import type { Registry } from '../registry/registry.ts';
import type { StoredInstance } from '../store/registry-store.ts';
import { parseContract, type Contract } from '../contracts/contract.ts';
import { contractValidator, type ContractValidator } from '../contracts/request-validator.ts';

/** A contract published by the instances of one service version. */
export interface RegisteredContract {
  readonly service: string;
  readonly version: string;
  /** The store's hash of the published text. */
  readonly storedHash: string;
  /** Set once loaded and compiled; stays undefined when the document cannot be used (logged). */
  contract: Contract | undefined;
  validator: ContractValidator | undefined;
  /** Settles when the load ends; undefined once it has. */
  pending: Promise<void> | undefined;
}

/** What the book needs of the registry. */
export type ContractSource = Pick<Registry, 'snapshot' | 'subscribe' | 'onResync' | 'getContract'>;

/**
 * The gateway's copy of the contracts instances published when they registered, one per service version,
 * compiled for request validation and listed in the catalogue. Loading is asynchronous (the store holds the
 * text); a request that needs a contract still loading waits for it.
 *
 * @example
 * const book = new ContractBook(registry, logger);
 * book.start();
 * const state = new NodeState({ contracts: book });
 */
export class ContractBook {
  readonly #source: ContractSource;
  readonly #logger: Pick<Logger, 'warn'>;
  readonly #entries = new Map<string, RegisteredContract>();
  readonly #stops: (() => void)[] = [];
  #revision = 0;

  constructor(source: ContractSource, logger: Pick<Logger, 'warn'>) {
    this.#source = source;
    this.#logger = logger;
  }

  /** Goes up whenever a contract is added or replaced, so choices cached by readers can be dropped. */
  get revision(): number {
    return this.#revision;
  }

  start(): void {
    for (const instance of this.#source.snapshot().instances) this.#see(instance);
    this.#stops.push(
      this.#source.subscribe((change) => {
        if (change.kind === 'upsert') this.#see(change.instance);
      }),
      this.#source.onResync((snapshot) => {
        for (const instance of snapshot.instances) this.#see(instance);
      }),
    );
  }

  /** The contract registered for exactly this version, loaded, loading or unusable; undefined when none. */
  lookup(service: string, version: string): RegisteredContract | undefined {
    return this.#entries.get(keyOf(service, version));
  }

  /** Every registered contract known now. */
  entries(): IterableIterator<RegisteredContract> {
    return this.#entries.values();
  }

  /** Waits for every load in progress (tests, the catalogue). */
  async settled(): Promise<void> {
    await Promise.all([...this.#entries.values()].map((entry) => entry.pending));
  }

  /** Detaches from the registry (called with the other stage state on shutdown). */
  async close(): Promise<void> {
    for (const stop of this.#stops.splice(0)) stop();
    await this.settled();
  }

  #see(instance: StoredInstance): void {
    const storedHash = instance.contractHash;
    if (storedHash === undefined) return;
    const key = keyOf(instance.service, instance.version);
    if (this.#entries.get(key)?.storedHash === storedHash) return;
    const entry: RegisteredContract = {
      service: instance.service,
      version: instance.version,
      storedHash,
      contract: undefined,
      validator: undefined,
      pending: undefined,
    };
    entry.pending = this.#load(entry).finally(() => {
      entry.pending = undefined;
      this.#revision++;
    });
    this.#entries.set(key, entry);
    this.#revision++;
  }

  async #load(entry: RegisteredContract): Promise<void> {
    try {
      const text = await this.#source.getContract(entry.service, entry.version);
      if (text === undefined) return;
      const contract = await parseContract(text);
      entry.validator = contractValidator(contract);
      entry.contract = contract;
    } catch (err) {
      // The registry checked the document when it arrived; a contract that still fails here is not enforced.
      this.#logger.warn(
        { err, service: entry.service, version: entry.version },
        'registered contract cannot be used for validation',
      );
    }
  }
}

function keyOf(service: string, version: string): string {
  return `${service}\n${version}`;
}
