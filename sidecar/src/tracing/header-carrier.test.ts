import { describe, expect, it } from '@jest/globals';
import { headerGetter, headerSetter } from './header-carrier.js';

describe('header carriers', () => {
  it('read flat raw header lists case-insensitively', () => {
    const list = ['Host', 'a', 'TraceParent', '00-x', 'baggage', 'k=v'];
    expect(headerGetter.get(list, 'traceparent')).toBe('00-x');
    expect(headerGetter.get(list, 'tracestate')).toBeUndefined();
    expect(headerGetter.keys(list)).toEqual(['host', 'traceparent', 'baggage']);
  });

  it('replace an existing header of any case in a flat list, or append it', () => {
    const list = ['TRACEPARENT', 'old'];
    headerSetter.set(list, 'traceparent', 'new');
    headerSetter.set(list, 'tracestate', 'v=1');
    expect(list).toEqual(['TRACEPARENT', 'new', 'tracestate', 'v=1']);
  });

  it('read and write Node header objects', () => {
    const headers: Record<string, string> = { traceparent: 'a' };
    expect(headerGetter.get(headers, 'traceparent')).toBe('a');
    headerSetter.set(headers, 'traceparent', 'b');
    expect(headers).toEqual({ traceparent: 'b' });
  });
});
