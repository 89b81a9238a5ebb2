import semver from 'semver';
import type { RouteConfig, ServiceConfig } from '../../config/schema.ts';
import { configContracts, contractDates } from '../../contracts/config-contracts.ts';
import { PorticoError } from '../../errors/portico-error.ts';
import { createCanarySplit, type CanarySplit } from '../../versions/canary-split.ts';
import type { ContractBook } from '../../versions/contract-book.ts';
import { compileLifecycles, type ContractDates, type VersionLifecycle } from '../../versions/lifecycle.ts';
import { requestedRange, type VersionSource } from '../../versions/requested-version.ts';
import { PIN_UNKNOWN } from '../../versions/version-tracking.ts';
import { versionIndexOf, type VersionIndex, type VersionView } from '../../versions/version-index.ts';
import type { RequestContext } from '../pipeline/request-context.ts';
import type { Stage, StageCompileContext, StageFactory } from '../pipeline/stage.ts';
import type { ServiceRuntime } from '../runtime/service-runtime.ts';

export interface VersionStageOptions {
  /** Epoch ms, for deprecation and sunset dates. */
  readonly clock?: () => number;
}

/**
 * Version selection, canary split, deprecation headers and usage counts (docs/versioning.md). Runs in the
 * `traffic` phase, after authentication, so a split can stick to the consumer.
 */
export function createVersionStageFactory(options: VersionStageOptions = {}): StageFactory {
  const clock = options.clock ?? Date.now;
  return {
    name: 'version',
    phase: 'traffic',
    create(route: RouteConfig, context: StageCompileContext): Stage | undefined {
      if (route.version === undefined && route.split === undefined) return undefined;
      return createVersionStage(route, context, clock);
    },
  };
}

/** The stage as registered in stages/index.ts. */
export const versionStageFactory: StageFactory = createVersionStageFactory();

function createVersionStage(route: RouteConfig, context: StageCompileContext, clock: () => number): Stage {
  const from: readonly VersionSource[] = route.version?.from ?? [];
  const defaultRange = route.version?.default;
  const split = route.split === undefined ? undefined : createCanarySplit(route.split);
  // Built once: a fresh string per request would also be hashed again by the index's lookup.
  const armRanges = new Map(split?.arms.map((arm): [number, string] => [arm.major, `${arm.major}.x`]));
  // Dates in a contract's info (x-deprecated, x-sunset) apply when the config gives none: a contract file's
  // first, else the contract registered by the highest version of the major.
  const files = configContracts(context.config).get(route.service);
  const policies = context.config.services[route.service]?.versions;
  const node = context.state.node;
  const book: ContractBook | undefined = node.contracts;
  const compile = (registered: Map<number, ContractDates>): Map<number, VersionLifecycle> => {
    const versions: NonNullable<ServiceConfig['versions']> = { ...policies };
    for (const major of registered.keys())
      versions[String(major)] ??= {} as NonNullable<ServiceConfig['versions']>[string];
    return compileLifecycles(versions, (major) => {
      const file = files?.get(major);
      return (file === undefined ? undefined : contractDates(file.contract)) ?? registered.get(major);
    });
  };
  let lifecycles = compile(new Map());
  // Rebuilt only when the book's revision moves (a contract registered or replaced), never per request.
  let bookRevision = -1;
  const currentLifecycles = (): Map<number, VersionLifecycle> => {
    if (book !== undefined && book.revision !== bookRevision) {
      bookRevision = book.revision;
      lifecycles = compile(registeredDates(book, route.service));
    }
    return lifecycles;
  };
  const tracking = node.versions;
  const pinning = route.version?.pin === true;
  const pinRanges = new Map<string, string>();
  const pinRange = (major: string): string => {
    let range = pinRanges.get(major);
    if (range === undefined) pinRanges.set(major, (range = `${major}.x`));
    return range;
  };
  // Views follow a service's instance set; a reload makes a new set, so they are keyed by the set itself.
  const views = node.versionIndexes;

  function indexOf(service: ServiceRuntime): VersionIndex {
    return versionIndexOf(views, service.instances, service.config.loadBalancer);
  }

  function splitView(arms: CanarySplit, index: VersionIndex, key: string): VersionView | undefined {
    let first: VersionView | undefined;
    for (const major of arms.order(key)) {
      const view = index.view(armRanges.get(major) as string);
      first ??= view;
      // A canary arm with nothing running must not fail its share of users: they go to the next arm.
      if (view.instances.available.length > 0) return view;
    }
    return first;
  }

  function countUsage(ctx: RequestContext): void {
    const id = ctx.upstream;
    if (id === undefined) return;
    const instance = (ctx.instances ?? ctx.route.service.instances).get(id);
    const version = instance?.version;
    if (version === undefined) return;
    const service = ctx.route.service.name;
    tracking.record(service, version, ctx.consumer);
    // A consumer's first call pins it to the major it was served, whatever chose it.
    if (pinning && ctx.consumer !== undefined && ctx.versionPin === undefined)
      tracking.pinServed(service, ctx.consumer, String(semver.major(version)));
  }

  return function selectVersion(ctx: RequestContext, next): void | Promise<void> {
    const index = indexOf(ctx.route.service);
    const asked = from.length === 0 ? undefined : requestedRange(from, ctx.params, ctx.req.headers);
    let view: VersionView | undefined;
    // An explicit version wins over the pin; the pin wins over the split and the default.
    const pin =
      pinning && asked === undefined && ctx.consumer !== undefined
        ? tracking.pinOf(ctx.route.service.name, ctx.consumer)
        : undefined;
    if (pin === PIN_UNKNOWN) {
      // The consumer's first request on this node: its pin is read from the store once, then kept.
      return tracking
        .loadPin(ctx.route.service.name, ctx.consumer as string)
        .then(() => selectVersion(ctx, next));
    }
    if (pin !== undefined) {
      view = index.view(pinRange(pin));
      ctx.versionPin = pin;
    } else if (asked === undefined && split !== undefined)
      view = splitView(split, index, ctx.consumer ?? ctx.clientIp);
    else {
      const range = asked ?? defaultRange;
      if (range !== undefined) view = index.view(range);
    }
    if (view !== undefined) {
      if (view.instances.size === 0) {
        const versions = index.versions();
        throw new PorticoError(
          'version_not_found',
          ctx.versionPin === undefined
            ? `no instance of "${ctx.route.service.name}" serves version ${view.range}`
            : `the consumer is pinned to version ${ctx.versionPin} of "${ctx.route.service.name}", which no instance serves (an operator can move the pin)`,
          ctx.versionPin === undefined
            ? { requested: view.range, versions }
            : { requested: view.range, versions, pinned: ctx.versionPin },
        );
      }
      ctx.instances = view.instances;
      ctx.versionMajor = view.major;
      if (view.major !== undefined) {
        const lifecycle = currentLifecycles().get(view.major);
        if (lifecycle !== undefined) applyLifecycle(ctx, lifecycle, clock());
      }
    }
    ctx.versioned = true;
    const pending = next(ctx);
    if (pending === undefined) {
      countUsage(ctx);
      return;
    }
    return pending.then(() => countUsage(ctx));
  };
}

/** Per major, the dates in the contract registered by its highest version that carries any. */
function registeredDates(book: ContractBook, service: string): Map<number, ContractDates> {
  const best = new Map<number, { version: string; dates: ContractDates }>();
  for (const entry of book.entries()) {
    if (entry.service !== service || entry.contract === undefined) continue;
    const dates = contractDates(entry.contract);
    if (dates === undefined) continue;
    const major = semver.major(entry.version);
    const known = best.get(major);
    if (known === undefined || semver.gt(entry.version, known.version))
      best.set(major, { version: entry.version, dates });
  }
  return new Map([...best].map(([major, { dates }]) => [major, dates]));
}

function applyLifecycle(ctx: RequestContext, lifecycle: VersionLifecycle, now: number): void {
  if (lifecycle.refuseAfterSunset && lifecycle.sunsetAt !== undefined && now >= lifecycle.sunsetAt) {
    throw new PorticoError(
      'version_sunset',
      `version ${lifecycle.major} was retired on ${new Date(lifecycle.sunsetAt).toUTCString()}`,
      {
        version: String(lifecycle.major),
        sunset: new Date(lifecycle.sunsetAt).toISOString(),
      },
    );
  }
  for (const [name, value] of lifecycle.headers) ctx.res.setHeader(name, value);
}
