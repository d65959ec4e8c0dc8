import { describe, expect, it } from '@jest/globals';
import { InvalidFilterConfigError } from './errors.js';
import { compileRouteMatch } from './route-match.js';

describe('compileRouteMatch', () => {
  it('matches everything when empty', () => {
    expect(compileRouteMatch()('GET', '/', [])).toBe(true);
    expect(compileRouteMatch({ methods: [], headers: {} })('PATCH', '/x', [])).toBe(true);
  });

  it('matches a path prefix on segment boundaries, ignoring the query', () => {
    const matches = compileRouteMatch({ pathPrefix: '/api/orders' });
    expect(matches('GET', '/api/orders', [])).toBe(true);
    expect(matches('GET', '/api/orders/7', [])).toBe(true);
    expect(matches('GET', '/api/orders?page=2', [])).toBe(true);
    expect(matches('GET', '/api/ordersx', [])).toBe(false);
    expect(matches('GET', '/api', [])).toBe(false);
    expect(compileRouteMatch({ pathPrefix: '/' })('GET', '/anything', [])).toBe(true);
    expect(compileRouteMatch({ pathPrefix: '/api/' })('GET', '/api/x', [])).toBe(true);
    expect(compileRouteMatch({ pathPrefix: '/api/' })('GET', '/api', [])).toBe(false);
  });

  it('matches an exact path, with or without a query', () => {
    const matches = compileRouteMatch({ path: '/healthz' });
    expect(matches('GET', '/healthz', [])).toBe(true);
    expect(matches('GET', '/healthz?verbose', [])).toBe(true);
    expect(matches('GET', '/healthz/x', [])).toBe(false);
    expect(matches('GET', '/health', [])).toBe(false);
  });

  it('matches methods case-insensitively in config, exactly on the request', () => {
    const one = compileRouteMatch({ methods: ['post'] });
    expect(one('POST', '/', [])).toBe(true);
    expect(one('GET', '/', [])).toBe(false);
    const several = compileRouteMatch({ methods: ['PUT', 'DELETE'] });
    expect(several('DELETE', '/', [])).toBe(true);
    expect(several('POST', '/', [])).toBe(false);
  });

  it('matches exact header values in the raw header list, names in any case', () => {
    const matches = compileRouteMatch({ headers: { 'X-Tenant': 'acme' } });
    expect(matches('GET', '/', ['Host', 'a', 'x-tenant', 'acme'])).toBe(true);
    expect(matches('GET', '/', ['X-TENANT', 'acme'])).toBe(true);
    expect(matches('GET', '/', ['x-tenant', 'Acme'])).toBe(false);
    expect(matches('GET', '/', ['x-tenants', 'acme'])).toBe(false);
    expect(matches('GET', '/', [])).toBe(false);
    expect(matches('GET', '/', ['x-tenant', 'other', 'x-tenant', 'acme'])).toBe(true); // repeated header
    expect(matches('GET', '/', ['acme', 'x-tenant'])).toBe(false); // names and values do not mix
  });

  it('requires every condition', () => {
    const matches = compileRouteMatch({
      pathPrefix: '/api/orders',
      methods: ['POST'],
      headers: { 'x-beta': '1' },
    });
    expect(matches('POST', '/api/orders', ['x-beta', '1'])).toBe(true);
    expect(matches('GET', '/api/orders', ['x-beta', '1'])).toBe(false);
    expect(matches('POST', '/api/users', ['x-beta', '1'])).toBe(false);
    expect(matches('POST', '/api/orders', [])).toBe(false);
  });

  it('refuses paths without a leading slash and invalid header names', () => {
    expect(() => compileRouteMatch({ pathPrefix: 'api' })).toThrow(InvalidFilterConfigError);
    expect(() => compileRouteMatch({ headers: { 'bad name': 'x' } })).toThrow(/match\.headers/);
  });
});
