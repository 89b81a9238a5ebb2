import { isIP } from 'node:net';
import type { Config, IpRulesConfig } from '../../config/schema.ts';
import { PorticoError } from '../../errors/portico-error.ts';
import { createAddressMatcher, type AddressMatcher } from '../net/address-matcher.ts';
import type { StageFactory } from '../pipeline/stage.ts';

/** One `ipRules` block compiled to matchers; `allow` undefined when it lists nothing (everyone allowed). */
interface CompiledRules {
  readonly allow: AddressMatcher | undefined;
  readonly deny: AddressMatcher | undefined;
}

/** The global rules are compiled once per config, not once per route (10,000 routes share one matcher). */
const globalRules = new WeakMap<Config, CompiledRules | null>();

function compileRules(rules: IpRulesConfig | undefined): CompiledRules | null {
  if (rules === undefined || (rules.allow.length === 0 && rules.deny.length === 0)) return null;
  return {
    allow: rules.allow.length === 0 ? undefined : createAddressMatcher(rules.allow),
    deny: rules.deny.length === 0 ? undefined : createAddressMatcher(rules.deny),
  };
}

function globalRulesOf(config: Config): CompiledRules | null {
  let rules = globalRules.get(config);
  if (rules === undefined) globalRules.set(config, (rules = compileRules(config.ipRules)));
  return rules;
}

function admits(rules: CompiledRules, address: string): boolean {
  if (rules.deny?.has(address) === true) return false;
  return rules.allow === undefined || rules.allow.has(address);
}

/**
 * Client address rules (edge phase, first of all stages: a refused address costs nothing else). The global
 * `ipRules` and the route's own both apply; in each, `deny` wins over `allow`, and a non-empty `allow` admits
 * only what it lists. The address checked is `ctx.clientIp`, which honours X-Forwarded-For only from
 * `trustedProxies`, so a client cannot spoof its way in. Refused → 403 `forbidden_address`.
 */
export const ipRulesStage: StageFactory = {
  name: 'ip-rules',
  phase: 'edge',
  create(route, context) {
    const global = globalRulesOf(context.config);
    const own = compileRules(route.ipRules);
    if (global === null && own === null) return undefined;
    const refused = new PorticoError('forbidden_address', 'the client address is not allowed on this route');
    return function ipRules(ctx, next) {
      const address = ctx.clientIp;
      // A hop that is not an address (a proxy's `unknown`) is never listed: BlockList would throw on it.
      if (isIP(address) === 0) {
        if (global?.allow !== undefined || own?.allow !== undefined) throw refused;
        return next(ctx);
      }
      if (global !== null && !admits(global, address)) throw refused;
      if (own !== null && !admits(own, address)) throw refused;
      return next(ctx);
    };
  },
};
