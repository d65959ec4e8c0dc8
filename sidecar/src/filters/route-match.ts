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
  /** Methods, case-insensitive in config; any of them matches. */
  methods?: readonly string[];
  /** Header name → exact value; names case-insensitive, values case-sensitive. */
  headers?: Readonly<Record<string, string>>;
}

/**
 * A compiled `RouteMatch`. Arguments are what the proxy already holds, so matching allocates
 * nothing: the method as received (upper-case for standard methods), the origin-form target
 * (path and query; the outbound proxy passes the path of an absolute-form URL), and the headers
 * as Node's flat raw list `[name, value, name, value, …]` (`IncomingMessage.rawHeaders`, any
 * name case; using it avoids materialising `req.headers`).
 */
export type RouteMatcher = (method: string, path: string, rawHeaders: readonly string[]) => boolean;

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
  if (match.pathPrefix !== undefined) {
    checks.push(prefixCheck(checkPath('match.pathPrefix', match.pathPrefix)));
  }
  for (const [name, value] of Object.entries(match.headers ?? {}))
    checks.push(headerCheck(name, value));

  const [first, second, third] = checks;
  if (first === undefined) return () => true;
  if (second === undefined) return first;
  if (third === undefined)
    return (method, path, raw) => first(method, path, raw) && second(method, path, raw);
  return (method, path, raw) => {
    for (const check of checks) if (!check(method, path, raw)) return false;
    return true;
  };
}

function checkPath(field: string, path: string): string {
  if (!path.startsWith('/')) {
    throw new InvalidFilterConfigError(field, `must start with "/", got ${JSON.stringify(path)}`);
  }
  return path;
}

function methodCheck(methods: readonly string[]): RouteMatcher {
  const upper = methods.map((method) => method.toUpperCase());
  const [only] = upper;
  if (upper.length === 1 && only !== undefined) return (method) => method === only;
  const set = new Set(upper);
  return (method) => set.has(method);
}

/** The path of `target` equals `path`: `target` is `path` or `path?query`. */
function exactPathCheck(path: string): RouteMatcher {
  const length = path.length;
  return (_method, target) =>
    target.startsWith(path) && (target.length === length || target.charCodeAt(length) === QUERY);
}

function prefixCheck(prefix: string): RouteMatcher {
  if (prefix.endsWith('/')) return (_method, target) => target.startsWith(prefix);
  const length = prefix.length;
  return (_method, target) => {
    if (!target.startsWith(prefix)) return false;
    if (target.length === length) return true;
    const next = target.charCodeAt(length);
    return next === SLASH || next === QUERY;
  };
}

function headerCheck(name: string, expected: string): RouteMatcher {
  const key = name.toLowerCase();
  if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(key)) {
    throw new InvalidFilterConfigError(`match.headers.${name}`, 'is not a valid header name');
  }
  return (_method, _target, raw) => {
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (raw[i + 1] === expected && equalsLowerCase(raw[i] as string, key)) return true;
    }
    return false;
  };
}

/**
 * `candidate` equals the lower-case `lower`, ignoring case. Lower-case names (HTTP/2, undici,
 * most clients) compare by identity or one string comparison; only a mixed-case name allocates.
 */
function equalsLowerCase(candidate: string, lower: string): boolean {
  return (
    candidate === lower || (candidate.length === lower.length && candidate.toLowerCase() === lower)
  );
}
