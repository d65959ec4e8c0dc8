/**
 * The one place where the inbound and outbound stacks are assembled, and the route table that
 * selects a precompiled stack per request. Filters are built when config changes
 * (`compileRoutes`), never per request; `Pipeline.setRoutes` swaps the whole table in one
 * assignment, and a request keeps the stack it was routed to until it ends, so in-flight
 * requests finish on the old table.
 */
import type {
  Direction,
  Filter,
  Handler,
  ProxyRequest,
  ProxyResponse,
  RouteInfo,
} from './handler.js';
import { forwardToUpstream } from './upstream.js';

/** Filter instances for one inbound route; an absent position is skipped (zero cost). */
export interface InboundFilters {
  readonly trace?: Filter;
  readonly rateLimit?: Filter;
  readonly fault?: Filter;
  readonly breaker?: Filter;
  readonly timeout?: Filter;
}

/** Filter instances for one outbound route; an absent position is skipped (zero cost). */
export interface OutboundFilters {
  readonly trace?: Filter;
  readonly fault?: Filter;
  readonly breaker?: Filter;
  readonly retry?: Filter;
  readonly timeout?: Filter;
}

function wrap(handler: Handler, filter: Filter | undefined): Handler {
  return filter === undefined ? handler : filter(handler);
}

/** Inbound: client → trace → rate limit → fault → breaker → timeout → app. Built inside out. */
export function buildInboundStack(
  filters: InboundFilters,
  terminal: Handler = forwardToUpstream,
): Handler {
  let handler = terminal;
  // timeout: innermost, so it bounds the app call alone, not time spent in policy or delays.
  handler = wrap(handler, filters.timeout);
  // breaker: counts what the app really did, timeouts included, and sheds load before the app.
  handler = wrap(handler, filters.breaker);
  // fault: injected aborts/latency answer before the breaker, so a drill does not trip it.
  handler = wrap(handler, filters.fault);
  // rate limit: refuses excess demand first, before it costs a fault delay or a breaker slot.
  handler = wrap(handler, filters.rateLimit);
  // trace: outermost, so the server span covers every decision, refusals included.
  handler = wrap(handler, filters.trace);
  return handler;
}

/** Outbound: app → trace → fault → breaker → retry → timeout → destination. Built inside out. */
export function buildOutboundStack(
  filters: OutboundFilters,
  terminal: Handler = forwardToUpstream,
): Handler {
  let handler = terminal;
  // timeout: per attempt, so each retry gets its own deadline.
  handler = wrap(handler, filters.timeout);
  // retry: inside the breaker, so an open breaker refuses the call without spending retry budget.
  handler = wrap(handler, filters.retry);
  // breaker: one outcome per logical call (after retries), fails fast while the destination is sick.
  handler = wrap(handler, filters.breaker);
  // fault: injected before the breaker so a drill exercises the app's handling, not our breaker.
  handler = wrap(handler, filters.fault);
  // trace: outermost, so the client span covers retries and refusals.
  handler = wrap(handler, filters.trace);
  return handler;
}

/** One route as configured: how to recognise its requests and which filters it runs. */
export interface RouteSpec<F> {
  readonly name: string;
  /** Predicate from the route matcher; absent = matches everything (the default route). */
  readonly match?: (req: ProxyRequest) => boolean;
  readonly filters: F;
}

/** A route with its stack built. */
export interface CompiledRoute {
  readonly info: RouteInfo;
  readonly match: ((req: ProxyRequest) => boolean) | null;
  readonly handler: Handler;
}

/** An immutable, ordered list of compiled routes; the first match wins, the last is the default. */
export class RouteTable {
  private readonly routes: readonly CompiledRoute[];
  private readonly fallback: CompiledRoute;

  constructor(routes: readonly CompiledRoute[], fallback: CompiledRoute) {
    this.routes = routes;
    this.fallback = fallback;
  }

  /** The route for `req` (always one: the fallback when nothing matches). */
  resolve(req: ProxyRequest): CompiledRoute {
    const routes = this.routes;
    for (let i = 0; i < routes.length; i++) {
      const route = routes[i] as CompiledRoute;
      if (route.match === null || route.match(req)) return route;
    }
    return this.fallback;
  }
}

/** Name of the route that carries requests no configured route matched. */
export const defaultRouteName = 'default';

/**
 * Compiles a table for one direction. A route without `match` ends the list (it matches
 * everything); when there is none, a filterless default route is appended.
 */
export function compileRoutes(
  direction: Direction,
  specs: readonly RouteSpec<InboundFilters & OutboundFilters>[],
  terminal: Handler = forwardToUpstream,
): RouteTable {
  const build = direction === 'inbound' ? buildInboundStack : buildOutboundStack;
  const compiled: CompiledRoute[] = [];
  let fallback: CompiledRoute | null = null;
  for (const spec of specs) {
    const route: CompiledRoute = Object.freeze({
      info: Object.freeze({ name: spec.name }),
      match: spec.match ?? null,
      handler: build(spec.filters, terminal),
    });
    if (route.match === null) {
      fallback = route;
      break;
    }
    compiled.push(route);
  }
  fallback ??= Object.freeze({
    info: Object.freeze({ name: defaultRouteName }),
    match: null,
    handler: terminal,
  });
  return new RouteTable(compiled, fallback);
}

/** Holds the route table in force for one direction. */
export class Pipeline {
  private table: RouteTable;

  constructor(table: RouteTable) {
    this.table = table;
  }

  /** Swaps the table atomically; requests already routed keep their old stack. */
  setRoutes(table: RouteTable): void {
    this.table = table;
  }

  /** The table in force. */
  routes(): RouteTable {
    return this.table;
  }

  /** Routes `req` and runs its stack. */
  handle(req: ProxyRequest): Promise<ProxyResponse> {
    const route = this.table.resolve(req);
    req.route = route.info;
    return route.handler(req);
  }
}
