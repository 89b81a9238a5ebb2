import type { ServiceConfig } from '../config/schema.ts';

/** The retirement plan of one major version, compiled once from config (and the contract's x- dates). */
export interface VersionLifecycle {
  readonly major: number;
  /** Epoch ms, or undefined. */
  readonly deprecatedAt: number | undefined;
  readonly sunsetAt: number | undefined;
  readonly refuseAfterSunset: boolean;
  /** Response headers every answer of this version carries: [name, value] pairs. */
  readonly headers: readonly (readonly [string, string])[];
}

/** Dates a contract may carry in `info` (`x-deprecated`, `x-sunset`); config dates win over them. */
export interface ContractDates {
  readonly deprecated?: string | undefined;
  readonly sunset?: string | undefined;
}

/**
 * Builds the lifecycle of each configured major. Headers follow RFC 9745 (`Deprecation: @<epoch seconds>`),
 * RFC 8594 (`Sunset: <HTTP-date>`) and RFC 8288 (`Link: <url>; rel="deprecation"`).
 *
 * @example
 * compileLifecycles({ '1': { deprecated: '2026-06-01', sunset: '2027-01-01' } }).get(1)?.headers;
 * // [['deprecation', '@1780272000'], ['sunset', 'Fri, 01 Jan 2027 00:00:00 GMT']]
 */
export function compileLifecycles(
  versions: ServiceConfig['versions'],
  contractDates: (major: number) => ContractDates | undefined = () => undefined,
): Map<number, VersionLifecycle> {
  const out = new Map<number, VersionLifecycle>();
  for (const [key, policy] of Object.entries(versions ?? {})) {
    const major = Number(key);
    const fromContract = contractDates(major);
    const deprecatedAt = parseDate(policy.deprecated ?? fromContract?.deprecated);
    const sunsetAt = parseDate(policy.sunset ?? fromContract?.sunset);
    const headers: [string, string][] = [];
    if (deprecatedAt !== undefined) headers.push(['deprecation', `@${Math.floor(deprecatedAt / 1000)}`]);
    if (sunsetAt !== undefined) headers.push(['sunset', new Date(sunsetAt).toUTCString()]);
    if (policy.link !== undefined)
      headers.push(['link', `<${policy.link}>; rel="deprecation"; type="text/html"`]);
    out.set(major, {
      major,
      deprecatedAt,
      sunsetAt,
      refuseAfterSunset: policy.refuseAfterSunset ?? false,
      headers,
    });
  }
  return out;
}

/** A sunset before the deprecation is a config error; returns the message or undefined. */
export function lifecycleProblem(policy: {
  deprecated?: string | undefined;
  sunset?: string | undefined;
}): string | undefined {
  const deprecatedAt = parseDate(policy.deprecated);
  const sunsetAt = parseDate(policy.sunset);
  if (deprecatedAt !== undefined && sunsetAt !== undefined && sunsetAt < deprecatedAt)
    return `sunset ${policy.sunset} is earlier than deprecated ${policy.deprecated}`;
  return undefined;
}

/** `2026-06-01` is midnight UTC; a full RFC 3339 timestamp is taken as written. */
function parseDate(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
  return Number.isNaN(ms) ? undefined : ms;
}
