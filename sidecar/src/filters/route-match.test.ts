import { describe, expect, it } from '@jest/globals';
import type { IncomingHttpHeaders } from 'node:http';
import { InvalidFilterConfigError } from './errors.js';
import { compileRouteMatch } from './route-match.js';

const request = (method: string, url: string, headers: IncomingHttpHeaders = {}) => ({
  method,
  url,
  headers,
});

describe('compileRouteMatch', () => {
  it('matches everything when empty', () => {
    expect(compileRouteMatch()(request('GET', '/'))).toBe(true);
    expect(compileRouteMatch({ methods: [], headers: {} })(request('PATCH', '/x'))).toBe(true);
  });

  it('matches a path prefix on segment boundaries, ignoring the query', () => {
    const matches = compileRouteMatch({ pathPrefix: '/api/orders' });
    expect(matches(request('GET', '/api/orders'))).toBe(true);
    expect(matches(request('GET', '/api/orders/7'))).toBe(true);
    expect(matches(request('GET', '/api/orders?page=2'))).toBe(true);
    expect(matches(request('GET', '/api/ordersx'))).toBe(false);
    expect(matches(request('GET', '/api'))).toBe(false);
    expect(compileRouteMatch({ pathPrefix: '/' })(request('GET', '/anything'))).toBe(true);
  });

  it('matches an exact path, with or without a query', () => {
    const matches = compileRouteMatch({ path: '/healthz' });
    expect(matches(request('GET', '/healthz'))).toBe(true);
    expect(matches(request('GET', '/healthz?verbose'))).toBe(true);
    expect(matches(request('GET', '/healthz/x'))).toBe(false);
    expect(matches(request('GET', '/health'))).toBe(false);
  });

  it('matches methods case-insensitively in config, exactly on the request', () => {
    const one = compileRouteMatch({ methods: ['post'] });
    expect(one(request('POST', '/'))).toBe(true);
    expect(one(request('GET', '/'))).toBe(false);
    const several = compileRouteMatch({ methods: ['PUT', 'DELETE'] });
    expect(several(request('DELETE', '/'))).toBe(true);
    expect(several(request('POST', '/'))).toBe(false);
  });

  it('matches exact header values, names case-insensitively', () => {
    const matches = compileRouteMatch({ headers: { 'X-Tenant': 'acme' } });
    expect(matches(request('GET', '/', { 'x-tenant': 'acme' }))).toBe(true);
    expect(matches(request('GET', '/', { 'x-tenant': 'Acme' }))).toBe(false);
    expect(matches(request('GET', '/', {}))).toBe(false);
    expect(
      matches(request('GET', '/', { 'x-tenant': ['other', 'acme'] as unknown as string })),
    ).toBe(true);
  });

  it('requires every condition', () => {
    const matches = compileRouteMatch({
      pathPrefix: '/api/orders',
      methods: ['POST'],
      headers: { 'x-beta': '1' },
    });
    expect(matches(request('POST', '/api/orders', { 'x-beta': '1' }))).toBe(true);
    expect(matches(request('GET', '/api/orders', { 'x-beta': '1' }))).toBe(false);
    expect(matches(request('POST', '/api/users', { 'x-beta': '1' }))).toBe(false);
    expect(matches(request('POST', '/api/orders', {}))).toBe(false);
  });

  it('refuses paths without a leading slash and invalid header names', () => {
    expect(() => compileRouteMatch({ pathPrefix: 'api' })).toThrow(InvalidFilterConfigError);
    expect(() => compileRouteMatch({ headers: { 'bad name': 'x' } })).toThrow(/match\.headers/);
  });
});
