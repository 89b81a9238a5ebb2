import semver from 'semver';
import { createBalancer } from '../balancing/index.ts';
import type { LoadBalancerName } from '../config/schema.ts';
import type { Instance } from '../gateway/upstream/instance.ts';
import { InstanceSet, type InstanceChange } from '../gateway/upstream/instance-set.ts';

/** The instances of one service whose version satisfies one range, kept in step with the service's set. */
export interface VersionView {
  readonly range: string;
  readonly instances: InstanceSet;
  /** The one major all matching instances share, or undefined when they span several (or none match). */
  readonly major: number | undefined;
}

/** Clients choose ranges freely: past this many distinct ranges per service the views are rebuilt from scratch. */
const MAX_VIEWS = 128;

/**
 * Per-range views of a service's instance set. A view is built on first use and then follows every change of
 * the service set (registrations, removals, health, drain), so a request reads a ready balancer and never
 * filters instances itself.
 *
 * @example
 * const index = new VersionIndex(service.instances, 'round-robin');
 * const v2 = index.view('^2').instances.pick(undefined);
 */
export class VersionIndex {
  readonly #source: InstanceSet;
  readonly #balancer: LoadBalancerName;
  readonly #views = new Map<string, VersionView & { instances: InstanceSet }>();
  #versions: string[] | undefined = undefined;

  constructor(source: InstanceSet, balancer: LoadBalancerName) {
    this.#source = source;
    this.#balancer = balancer;
    source.onChange((change) => this.#follow(change));
  }

  /** The view for a range (a valid semver range; callers check it). */
  view(range: string): VersionView {
    let view = this.#views.get(range);
    if (view !== undefined) return view;
    if (this.#views.size >= MAX_VIEWS) this.#views.clear();
    const matching = this.#source.all.filter((instance) => satisfies(instance, range));
    const instances = new InstanceSet({
      service: this.#source.service,
      balancer: createBalancer<Instance>(this.#balancer),
      instances: matching,
    });
    view = { range, instances, major: singleMajor(matching) };
    this.#views.set(range, view);
    return view;
  }

  /** Every distinct version the service runs, highest first (for `version_not_found`). */
  versions(): readonly string[] {
    this.#versions ??= [
      ...new Set(
        this.#source.all.map((instance) => instance.version).filter((v): v is string => v !== undefined),
      ),
    ].sort(semver.rcompare);
    return this.#versions;
  }

  #follow(change: InstanceChange): void {
    this.#versions = undefined;
    const { instance } = change;
    for (const [range, view] of this.#views) {
      const wanted = this.#source.get(instance.id) === instance && satisfies(instance, range);
      const held = view.instances.get(instance.id);
      if (held !== undefined && (held !== instance || !wanted)) view.instances.remove(instance.id);
      // Health and drain flags live on the shared Instance: re-adding makes the view rebuild its available list.
      if (wanted && (held !== instance || change.type === 'health' || change.type === 'status')) {
        if (held === instance) view.instances.remove(instance.id);
        view.instances.add(instance);
      }
      const major = singleMajor(view.instances.all);
      if (major !== view.major) this.#views.set(range, { ...view, major });
    }
  }
}

/**
 * The version index of a service's instance set, made on first use and kept in `indexes` (the node's, shared by
 * every stage), so the version stage and the validate stage read the same views.
 */
export function versionIndexOf(
  indexes: WeakMap<InstanceSet, VersionIndex>,
  source: InstanceSet,
  balancer: LoadBalancerName,
): VersionIndex {
  let index = indexes.get(source);
  if (index === undefined) indexes.set(source, (index = new VersionIndex(source, balancer)));
  return index;
}

function satisfies(instance: Instance, range: string): boolean {
  return instance.version !== undefined && semver.satisfies(instance.version, range);
}

function singleMajor(instances: readonly Instance[]): number | undefined {
  let major: number | undefined;
  for (const instance of instances) {
    if (instance.version === undefined) continue;
    const m = semver.major(instance.version);
    if (major !== undefined && major !== m) return undefined;
    major = m;
  }
  return major;
}
