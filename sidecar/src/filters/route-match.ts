import type { IncomingHttpHeaders } from 'node:http';
import { InvalidFilterConfigError } from './errors.js';

/** A rule's `match` (RateLimitPolicy rules, ChaosExperiment faults). Every field given must match. */
export interface RouteMatch {
  /** Exact path (the query string is ignored). */
  path?: string;
  /**
   * Path prefix, segment-aware as in the Gateway API: `/api/orders` matches `/api/orders`,
   * `/api/orders/7` and `/api/orders?x=1`, not `/api/ordersx`. A prefix ending in `/` is a plain
   * string prefix.
   */
  pathPrefix?: string;
  /** Methods, case-insensitive; any of them matches. */
  methods?: readonly string[];
  /** Header name → exact value; names case-insensitive, values case-sensitive. */
  headers?: Readonly<Record<string, string>>;
}

/**
 * The parts of a request a matcher reads: Node's `req.method`, `req.url` and `req.headers`. `url`
 * must be origin-form (path and query); the outbound proxy passes the path of an absolute-form URL.
 */
export interface MatchableRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/** A compiled `RouteMatch`: a closure that allocates nothing. */
export type RouteMatcher = (request: MatchableRequest) => boolean;

const QUERY = 63; // '?'
const SLASH = 47; // '/'

/**
 * Compiles a `match` once at config time. The closure checks the cheapest conditions first
 * (method, then path, then headers) and only the conditions present; an empty match matches
 * every request.
 */
export function compileRouteMatch(match: RouteMatch = {}): RouteMatcher {
  const checks: RouteMatcher[] = [];
  if (match.methods !== undefined && match.methods.length > 0)
    checks.push(methodCheck(match.methods));
  if (match.path !== undefined) checks.push(exactPathCheck(checkPath('match.path', match.path)));
  if (match.pathPrefix !== undefined)
    checks.push(prefixCheck(checkPath('match.pathPrefix', match.pathPrefix)));
  for (const [name, value] of Object.entries(match.headers ?? {}))
    checks.push(headerCheck(name, value));

  const [first, second, third] = checks;
  if (first === undefined) return () => true;
  if (second === undefined) return first;
  if (third === undefined) return (request) => first(request) && second(request);
  return (request) => {
    for (const check of checks) if (!check(request)) return false;
    return true;
  };
}

function checkPath(field: string, path: string): string {
  if (!path.startsWith('/'))
    throw new InvalidFilterConfigError(field, `must start with "/", got ${JSON.stringify(path)}`);
  return path;
}

function methodCheck(methods: readonly string[]): RouteMatcher {
  const upper = methods.map((method) => method.toUpperCase());
  const [only] = upper;
  if (upper.length === 1 && only !== undefined) return (request) => request.method === only;
  const set = new Set(upper);
  return (request) => request.method !== undefined && set.has(request.method);
}

/** Path of `url` equals `path`: `url` is `path` or `path?query`. */
function exactPathCheck(path: string): RouteMatcher {
  const length = path.length;
  return (request) => {
    const url = request.url;
    if (url === undefined || !url.startsWith(path)) return false;
    return url.length === length || url.charCodeAt(length) === QUERY;
  };
}

function prefixCheck(prefix: string): RouteMatcher {
  if (prefix.endsWith('/')) return (request) => request.url?.startsWith(prefix) === true;
  const length = prefix.length;
  return (request) => {
    const url = request.url;
    if (url === undefined || !url.startsWith(prefix)) return false;
    if (url.length === length) return true;
    const next = url.charCodeAt(length);
    return next === SLASH || next === QUERY;
  };
}

function headerCheck(name: string, expected: string): RouteMatcher {
  const key = name.toLowerCase();
  if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(key)) {
    throw new InvalidFilterConfigError(`match.headers.${name}`, 'is not a valid header name');
  }
  return (request) => {
    const actual = request.headers[key];
    if (actual === undefined) return false;
    return typeof actual === 'string' ? actual === expected : actual.includes(expected);
  };
}
