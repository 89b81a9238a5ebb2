import type { ErrorCode } from '../errors/catalog.ts';

/** One call of an aggregate as declared (durations already parsed). */
export interface AggregateCallSpec {
  readonly service: string;
  /** Path and query with `{param}` and `{call.field}` placeholders. */
  readonly path: string;
  readonly method?: string | undefined;
  /** Name of the call whose answer this one needs; it starts once that call succeeded. */
  readonly after?: string | undefined;
  readonly optional?: boolean | undefined;
  /** Deadline of this call in ms (0 = none besides the route's). */
  readonly timeoutMs?: number | undefined;
}

type PathPart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'param'; readonly name: string }
  | { readonly kind: 'field'; readonly call: string; readonly path: readonly string[] };

/** A call ready to run: its template parsed, its dependency resolved. */
export interface PlannedCall {
  readonly name: string;
  readonly spec: AggregateCallSpec;
  readonly after: string | undefined;
  readonly optional: boolean;
  readonly parts: readonly PathPart[];
}

/** The calls of an aggregate in an order where every call comes after the one it needs. */
export interface AggregatePlan {
  readonly calls: readonly PlannedCall[];
  /** Call names in declaration order: the key order of the merged answer. */
  readonly names: readonly string[];
}

/** How one call failed, as listed under `errors` of a partial answer. */
export interface CallFailure {
  readonly call: string;
  /** A stable code from the error catalog (docs/errors.md). */
  readonly code: ErrorCode;
  /** The upstream status when the service answered with an error status. */
  readonly status?: number | undefined;
  readonly detail: string;
}

/** An error an `invoke` function throws so the failure carries a stable code. */
export class CallError extends Error {
  readonly code: ErrorCode;
  readonly status: number | undefined;
  constructor(code: ErrorCode, message: string, status?: number) {
    super(message);
    this.name = 'CallError';
    this.code = code;
    this.status = status;
  }
}

/**
 * Checks the calls (every `after` names a call, no cycles, every `{call.field}` placeholder names the call
 * this one runs after or one of its own dependencies) and parses the path templates once.
 * Throws an Error describing the first problem.
 */
export function compileAggregatePlan(calls: Readonly<Record<string, AggregateCallSpec>>): AggregatePlan {
  const names = Object.keys(calls);
  const ordered: PlannedCall[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: readonly string[]): void => {
    const seen = state.get(name);
    if (seen === 'done') return;
    if (seen === 'visiting') throw new Error(`calls form a cycle: ${[...trail, name].join(' → ')}`);
    const spec = calls[name] as AggregateCallSpec;
    state.set(name, 'visiting');
    if (spec.after !== undefined) {
      if (!Object.hasOwn(calls, spec.after))
        throw new Error(`call "${name}" runs after unknown call "${spec.after}"`);
      visit(spec.after, [...trail, name]);
    }
    const parts = parseTemplate(spec.path);
    const ancestors = ancestorsOf(calls, name);
    for (const part of parts) {
      if (part.kind === 'field' && !ancestors.has(part.call)) {
        throw new Error(
          `call "${name}" uses {${part.call}.${part.path.join('.')}} but does not run after "${part.call}"`,
        );
      }
    }
    state.set(name, 'done');
    ordered.push({ name, spec, after: spec.after, optional: spec.optional ?? false, parts });
  };
  for (const name of names) visit(name, []);
  return { calls: ordered, names };
}

function ancestorsOf(calls: Readonly<Record<string, AggregateCallSpec>>, name: string): Set<string> {
  const out = new Set<string>();
  for (let at = calls[name]?.after; at !== undefined && !out.has(at); at = calls[at]?.after) out.add(at);
  return out;
}

function parseTemplate(template: string): PathPart[] {
  const parts: PathPart[] = [];
  const pieces = template.split(/\{([A-Za-z_][A-Za-z0-9_.]*)\}/);
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] as string;
    if (i % 2 === 0) {
      if (piece !== '') parts.push({ kind: 'text', text: piece });
      continue;
    }
    const dot = piece.indexOf('.');
    if (dot < 0) parts.push({ kind: 'param', name: piece });
    else parts.push({ kind: 'field', call: piece.slice(0, dot), path: piece.slice(dot + 1).split('.') });
  }
  return parts;
}

/**
 * Fills a call's path: parameters and answer fields are percent-encoded as one path segment or query
 * value, so an answer cannot steer the call to another path. Throws CallError `missing_field` when a field
 * is absent or not a string / number.
 */
export function renderCallPath(
  call: PlannedCall,
  params: Readonly<Record<string, string>>,
  answers: ReadonlyMap<string, unknown>,
): string {
  let out = '';
  for (const part of call.parts) {
    if (part.kind === 'text') out += part.text;
    else if (part.kind === 'param') out += encodeURIComponent(params[part.name] ?? '');
    else {
      let value: unknown = answers.get(part.call);
      for (const key of part.path) {
        value =
          value !== null && typeof value === 'object' && Object.hasOwn(value, key)
            ? (value as Record<string, unknown>)[key]
            : undefined;
      }
      if (typeof value !== 'string' && typeof value !== 'number') {
        throw new CallError(
          'missing_field',
          `the answer of "${part.call}" has no usable field "${part.path.join('.')}"`,
        );
      }
      out += encodeURIComponent(String(value));
    }
  }
  return out;
}

/** Runs one call: resolves with its parsed JSON answer or rejects (ideally with a CallError). */
export type InvokeCall = (call: PlannedCall, path: string, signal: AbortSignal) => Promise<unknown>;

/** The outcome of an aggregate: the merged answer, or the required call that failed. */
export type AggregateOutcome =
  | {
      readonly ok: true;
      /** Every call's answer under its name; null for a failed optional call. */
      readonly body: Record<string, unknown>;
      /** Failures of optional calls (empty when the answer is whole). */
      readonly errors: readonly CallFailure[];
    }
  | { readonly ok: false; readonly failure: CallFailure };

/**
 * Runs the calls of a plan, each as soon as the call it needs has answered, so the total time is that of
 * the slowest path through the dependencies, not the sum. A failed optional call leaves its key null, is
 * listed in `errors`, and fails the calls that need it; a failed required call ends the aggregate at once
 * and aborts the calls still running.
 *
 * @example
 * const plan = compileAggregatePlan({ user: { service: 'users', path: '/users/{id}' } });
 * const outcome = await runAggregate(plan, { id: '7' }, (call, path, signal) => fetchJson(call.spec.service, path, signal));
 */
export function runAggregate(
  plan: AggregatePlan,
  params: Readonly<Record<string, string>>,
  invoke: InvokeCall,
  signal?: AbortSignal,
): Promise<AggregateOutcome> {
  const controller = new AbortController();
  const onOuterAbort = (): void => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onOuterAbort, { once: true });
  const answers = new Map<string, unknown>();
  const errors: CallFailure[] = [];
  const running = new Map<string, Promise<boolean>>();
  return new Promise<AggregateOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: AggregateOutcome): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onOuterAbort);
      if (!outcome.ok) controller.abort(new Error('aggregate failed'));
      resolve(outcome);
    };
    const fail = (call: PlannedCall, failure: CallFailure): boolean => {
      if (!call.optional) finish({ ok: false, failure });
      else errors.push(failure);
      return false;
    };
    const start = async (call: PlannedCall): Promise<boolean> => {
      if (call.after !== undefined) {
        const ready = await (running.get(call.after) as Promise<boolean>);
        if (!ready) {
          return fail(call, {
            call: call.name,
            code: 'dependency_failed',
            detail: `call "${call.after}" that it needs failed`,
          });
        }
      }
      if (settled) return false;
      try {
        const path = renderCallPath(call, params, answers);
        answers.set(call.name, await invoke(call, path, controller.signal));
        return true;
      } catch (err) {
        return fail(call, failureOf(call.name, err));
      }
    };
    // The plan is ordered, so a call's dependency is always in `running` before the call itself starts.
    for (const call of plan.calls) running.set(call.name, start(call));
    void Promise.all(running.values()).then(() => {
      const body: Record<string, unknown> = {};
      for (const name of plan.names) body[name] = answers.has(name) ? answers.get(name) : null;
      finish({ ok: true, body, errors });
    });
  });
}

function failureOf(call: string, err: unknown): CallFailure {
  if (err instanceof CallError) {
    return err.status === undefined
      ? { call, code: err.code, detail: err.message }
      : { call, code: err.code, status: err.status, detail: err.message };
  }
  return { call, code: 'call_failed', detail: err instanceof Error ? err.message : String(err) };
}
