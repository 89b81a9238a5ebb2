import type { IncomingMessage, ServerResponse } from 'node:http';
import semver from 'semver';
import type { RouteConfig } from '../../config/schema.ts';
import { parseSizeBytes } from '../../config/units.ts';
import { configContracts } from '../../contracts/config-contracts.ts';
import type { ContractValidator, RequestParts } from '../../contracts/request-validator.ts';
import { PorticoError } from '../../errors/portico-error.ts';
import type { ContractBook } from '../../versions/contract-book.ts';
import type { ResponseReports } from '../../versions/response-reports.ts';
import { versionIndexOf } from '../../versions/version-index.ts';
import { upstreamPathOf, type RequestContext } from '../pipeline/request-context.ts';
import type { Handler, Stage, StageCompileContext, StageFactory } from '../pipeline/stage.ts';
import type { Instance } from '../upstream/instance.ts';
import { closeAfterAnswer } from '../net/lingering-close.ts';

/**
 * The contracts that apply to one instance set: one validator per distinct contract (validators are shared per
 * contract hash, so versions publishing the same document count once), highest version's first.
 */
interface ContractPlan {
  readonly revision: number;
  /** Empty: no contract, the request passes unchecked. Several: each request is checked against each. */
  readonly validators: readonly ContractValidator[];
  /** Per validator, a range naming exactly the versions it checks (`1.5.0 || 1.5.1`). */
  readonly ranges: readonly string[];
  /** The validator of each version (a version without a contract of its own is checked by the first one). */
  readonly byVersion: ReadonlyMap<string, ContractValidator>;
  /** Per set of accepting validators (a bit mask), the range of their versions; built on first use. */
  readonly narrowed: Map<number, string>;
}

/** Past this many distinct contracts in one set, only the highest version's applies (bit masks stay small). */
const MAX_PLAN_CONTRACTS = 30;
const NO_CONTRACT: ContractPlan = {
  revision: -1,
  validators: [],
  ranges: [],
  byVersion: new Map(),
  narrowed: new Map(),
};

/**
 * `validate: request`: checks path parameters, query, headers and the JSON body against the contract of the
 * version chosen for the request (docs/versioning.md), and answers 400 `validation_failed` with every violation.
 * When the chosen instances run versions with different contracts, the request may only reach the versions whose
 * contract accepts it. It is the only stage that reads the body: within `limits.bodySize` (413 past it), and the
 * bytes read then go upstream as they came. Requests of a version without a contract pass unchecked.
 */
export const validateStage: StageFactory = {
  name: 'validate',
  phase: 'validate',
  create(route: RouteConfig, context: StageCompileContext): Stage | undefined {
    if (route.validate !== 'request' && route.validate !== 'request-and-response') return undefined;
    return createValidateStage(route, context);
  },
};

function createValidateStage(route: RouteConfig, context: StageCompileContext): Stage {
  const configured = configContracts(context.config).get(route.service);
  const book: ContractBook | undefined = context.state.node.contracts;
  const indexes = context.state.node.versionIndexes;
  const limitBytes = parseSizeBytes(context.config.limits.bodySize);
  const reports = route.validate === 'request-and-response' ? context.state.node.responseReports : undefined;
  const onlyConfigured = configured?.size === 1 ? [...configured.values()][0] : undefined;
  // Keyed by an instance set's snapshot array: a new array means the instances changed.
  const plans = new WeakMap<readonly Instance[], ContractPlan>();

  /** The contract of each version in the set: registered, else the config file of its major. */
  function planOf(all: readonly Instance[]): ContractPlan | Promise<ContractPlan> {
    const revision = book?.revision ?? 0;
    const cached = plans.get(all);
    if (cached !== undefined && cached.revision === revision) return cached;
    const versions = versionsOf(all);
    const own: (ContractValidator | undefined)[] = [];
    for (const version of versions) {
      const registered = book?.lookup(route.service, version);
      if (registered?.pending !== undefined) return registered.pending.then(() => planOf(all));
      own.push(registered?.validator ?? configured?.get(semver.major(version))?.validator);
    }
    const plan = buildPlan(revision, versions, own, all);
    plans.set(all, plan);
    return plan;
  }

  function buildPlan(
    revision: number,
    versions: readonly string[],
    own: readonly (ContractValidator | undefined)[],
    all: readonly Instance[],
  ): ContractPlan {
    const highest = own.find((validator) => validator !== undefined);
    if (highest === undefined) {
      // Instances without versions: a service with one contract in config uses it.
      const only = versions.length === 0 ? onlyConfigured?.validator : undefined;
      return only === undefined ? { ...NO_CONTRACT, revision } : single(revision, only);
    }
    const validators: ContractValidator[] = [];
    const members: string[][] = [];
    const byVersion = new Map<string, ContractValidator>();
    versions.forEach((version, i) => {
      const validator = own[i] ?? highest;
      byVersion.set(version, validator);
      let at = validators.indexOf(validator);
      if (at < 0) at = validators.push(validator) - 1;
      (members[at] ??= []).push(version);
    });
    // Narrowing picks instances by exact version, so it needs every instance to have one.
    const narrowable =
      validators.length <= MAX_PLAN_CONTRACTS &&
      all.every((instance) => instance.version !== undefined && byVersion.has(instance.version));
    if (!narrowable) return single(revision, highest);
    return {
      revision,
      validators,
      ranges: members.map((list) => list.join(' || ')),
      byVersion,
      narrowed: new Map(),
    };
  }

  async function check(ctx: RequestContext, plan: ContractPlan): Promise<void> {
    const req = ctx.req;
    if (hasBody(req)) ctx.body = await readBody(ctx, limitBytes);
    const method = req.method ?? 'GET';
    const path = upstreamPathOf(ctx);
    const parts: RequestParts = { method, path, query: ctx.query, headers: req.headers, body: ctx.body };
    const validators = plan.validators;
    const violations = (validators[0] as ContractValidator).validate(parts);
    if (validators.length > 1) {
      // Several contracts among the chosen instances: only those whose contract accepts it may serve it.
      let accepted = violations.length === 0 ? 1 : 0;
      for (let i = 1; i < validators.length; i++)
        if ((validators[i] as ContractValidator).validate(parts).length === 0) accepted |= 1 << i;
      if (accepted !== 0) {
        if (accepted !== (1 << validators.length) - 1) narrow(ctx, plan, accepted);
        if (reports !== undefined) watchResponse(ctx, plan, reports, method, path, limitBytes);
        return;
      }
    }
    if (violations.length > 0)
      throw new PorticoError(
        'validation_failed',
        `the request breaks the contract of "${ctx.route.service.name}" in ${violations.length} place(s)`,
        { errors: violations },
      );
    if (reports !== undefined) watchResponse(ctx, plan, reports, method, path, limitBytes);
  }

  /** Leaves the balancer only the instances whose versions' contracts accept the request. */
  function narrow(ctx: RequestContext, plan: ContractPlan, accepted: number): void {
    let range = plan.narrowed.get(accepted);
    if (range === undefined) {
      range = plan.ranges.filter((_, i) => (accepted & (1 << i)) !== 0).join(' || ');
      plan.narrowed.set(accepted, range);
    }
    const service = ctx.route.service;
    ctx.instances = versionIndexOf(indexes, service.instances, service.config.loadBalancer).view(
      range,
    ).instances;
  }

  function checkThenNext(ctx: RequestContext, plan: ContractPlan, next: Handler): void | Promise<void> {
    return plan.validators.length === 0 ? next(ctx) : check(ctx, plan).then(() => next(ctx));
  }

  return function validateRequest(ctx: RequestContext, next) {
    const set = ctx.instances ?? ctx.route.service.instances;
    const plan = planOf(set.all);
    if (plan instanceof Promise) return plan.then((ready) => checkThenNext(ctx, ready, next));
    if (plan.validators.length === 0) return next(ctx);
    return check(ctx, plan).then(() => next(ctx));
  };
}

function single(revision: number, validator: ContractValidator): ContractPlan {
  return { revision, validators: [validator], ranges: [], byVersion: new Map(), narrowed: new Map() };
}

const versionLists = new WeakMap<readonly Instance[], readonly string[]>();

/** Distinct valid versions of the instances, highest first (cached per snapshot). */
function versionsOf(all: readonly Instance[]): readonly string[] {
  let versions = versionLists.get(all);
  if (versions === undefined) {
    const seen = new Set<string>();
    for (const instance of all)
      if (instance.version !== undefined && semver.valid(instance.version) !== null)
        seen.add(instance.version);
    versions = [...seen].sort(semver.rcompare);
    versionLists.set(all, versions);
  }
  return versions;
}

export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Reads the whole body, refusing it with 413 past the limit (the rest is drained or lingered on). */
export function readBody(ctx: RequestContext, limitBytes: number): Promise<Buffer> {
  const req = ctx.req;
  const declared = Number(req.headers['content-length'] ?? -1);
  if (declared > limitBytes) return Promise.reject(tooLarge(ctx, limitBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    function onData(chunk: Buffer): void {
      size += chunk.length;
      if (size > limitBytes) {
        cleanup();
        reject(tooLarge(ctx, limitBytes));
      } else chunks.push(chunk);
    }
    function onEnd(): void {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    }
    function onClose(): void {
      cleanup();
      reject(new PorticoError('bad_request', 'the client closed the connection during the body'));
    }
    function onError(err: Error): void {
      cleanup();
      reject(err);
    }
    function cleanup(): void {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      req.off('error', onError);
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    req.on('error', onError);
  });
}

function tooLarge(ctx: RequestContext, limitBytes: number): PorticoError {
  // What is left of the body must not be read as the next request: drain it or linger, then close.
  closeAfterAnswer(ctx.req, ctx.res);
  return new PorticoError('payload_too_large', `body exceeds ${limitBytes} bytes`);
}

/** Largest answer copied for report-only checking; bigger ones are not checked. */
const MAX_CHECKED_RESPONSE_BYTES = 1024 * 1024;
/** Problem answers the gateway makes itself start like this; only the service's answers are checked. */
const GATEWAY_PROBLEM = Buffer.from('{"type":"https://portico.dev/problems/');

type Write = (chunk: unknown, ...rest: unknown[]) => boolean;
type End = (chunk?: unknown, ...rest: unknown[]) => ServerResponse;
type WriteHead = (status: number, ...rest: unknown[]) => ServerResponse;
interface Patchable {
  writeHead: WriteHead;
  write: Write;
  end: End;
}

/**
 * Copies the answer on its way out (up to a bound) and checks it against the operation once it ended. Only
 * routes with `validate: request-and-response` pay for the wrapped methods; the answer is sent unchanged.
 */
function watchResponse(
  ctx: RequestContext,
  plan: ContractPlan,
  reports: ResponseReports,
  method: string,
  path: string,
  limitBytes: number,
): void {
  const res = ctx.res;
  const patch = res as unknown as Patchable;
  const cap = Math.min(limitBytes, MAX_CHECKED_RESPONSE_BYTES);
  const writeHead = patch.writeHead;
  const write = patch.write;
  const end = patch.end;
  const chunks: Buffer[] = [];
  let size = 0;
  let status = 0;
  let contentType: string | undefined;
  function keep(chunk: unknown): void {
    if (size > cap || chunk === undefined || chunk === null || typeof chunk === 'function') return;
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
    size += bytes.length;
    if (size <= cap) chunks.push(bytes);
  }
  patch.writeHead = function captureHead(this: ServerResponse, code: number, ...rest: unknown[]) {
    status = code;
    contentType = contentTypeOf(rest);
    return writeHead.call(this, code, ...rest);
  };
  patch.write = function captureWrite(this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    keep(chunk);
    return write.call(this, chunk, ...rest);
  };
  patch.end = function captureEnd(this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    keep(chunk);
    const out = end.call(this, chunk, ...rest);
    if (status === 0) status = res.statusCode;
    contentType ??= headerText(res.getHeader('content-type'));
    const body = Buffer.concat(chunks, Math.min(size, cap));
    if (size <= cap && !body.subarray(0, GATEWAY_PROBLEM.length).equals(GATEWAY_PROBLEM)) {
      // The contract of the version that actually answered (the request may have spanned several).
      const version =
        ctx.upstream === undefined
          ? undefined
          : (ctx.instances ?? ctx.route.service.instances).get(ctx.upstream)?.version;
      const validator =
        (version === undefined ? undefined : plan.byVersion.get(version)) ??
        (plan.validators[0] as ContractValidator);
      const violations = validator.validateResponse({ method, path }, status, contentType, body);
      if (violations.length > 0)
        reports.report(
          ctx.route.name,
          ctx.route.service.name,
          { method, path, status, requestId: ctx.requestId },
          violations,
        );
    }
    return out;
  };
}

/** The Content-Type among writeHead's arguments: a flat [name, value, …] list or an object. */
function contentTypeOf(args: readonly unknown[]): string | undefined {
  const headers = typeof args[0] === 'string' ? args[1] : args[0];
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2)
      if (String(headers[i]).toLowerCase() === 'content-type') return String(headers[i + 1]);
    return undefined;
  }
  if (headers !== null && typeof headers === 'object')
    for (const [name, value] of Object.entries(headers))
      if (name.toLowerCase() === 'content-type') return headerText(value as string | number | string[]);
  return undefined;
}

function headerText(value: string | number | string[] | undefined): string | undefined {
  return value === undefined ? undefined : Array.isArray(value) ? value[0] : String(value);
}
