import { describe, expect, it } from '@jest/globals';
import type { SidecarSaga } from '@palisade/crds';
import { compileSagas } from './definition.js';

const call = (url: string, body?: unknown) => ({
  method: 'POST' as const,
  url,
  ...(body === undefined ? {} : { body }),
});

function saga(steps: SidecarSaga['steps']): SidecarSaga {
  return { name: 'shop/place-order', steps };
}

describe('compileSagas: validated when the config loads', () => {
  it('compiles the API.md example and collects its input references', () => {
    const result = compileSagas([
      saga([
        {
          name: 'reserve',
          action: {
            ...call('http://inventory/reservations', { items: '{{input.items}}' }),
            timeout: '2s',
            retries: { attempts: 3, backoff: '100ms' },
          },
          compensation: {
            method: 'DELETE',
            url: 'http://inventory/reservations/{{steps.reserve.response.body.id}}',
          },
        },
        {
          name: 'charge',
          action: call('http://payments/charges', { amount: '{{input.total}}' }),
          compensation: call('http://payments/refunds', {
            charge: '{{steps.charge.response.body.id}}',
          }),
        },
      ]),
    ]);
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    const definition = result.sagas.get('shop/place-order');
    expect(
      definition?.steps.map((s) => [
        s.name,
        s.action.timeoutMs,
        s.action.attempts,
        s.action.backoffMs,
      ]),
    ).toEqual([
      ['reserve', 2000, 3, 100],
      ['charge', 5000, 1, 100],
    ]);
    expect(definition?.steps[1]?.compensation?.attempts).toBe(5);
    expect(definition?.inputRefs.map((r) => r.path.join('.'))).toEqual(['items', 'total']);
  });

  it('names the field of a reference to a later or unknown step', () => {
    const result = compileSagas([
      saga([
        { name: 'a', action: call('http://x/{{steps.b.response.body.id}}') },
        { name: 'b', action: call('http://x', { v: '{{steps.nope.response.body.id}}' }) },
      ]),
    ]);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toEqual([
      {
        field: 'sagas[0].steps[0].action.url',
        message: expect.stringContaining('"b", which is not an earlier step'),
      },
      { field: 'sagas[0].steps[1].action.body', message: expect.stringContaining('"nope"') },
    ]);
  });

  it('lets a compensation read its own step response, and names malformed header templates', () => {
    const result = compileSagas([
      saga([
        {
          name: 'a',
          action: { ...call('http://x'), headers: { 'x-user': '{{user}}' } },
          compensation: call('http://x/{{steps.a.response.body.id}}'),
        },
      ]),
    ]);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.errors).toEqual([
        {
          field: 'sagas[0].steps[0].action.headers.x-user',
          message: expect.stringContaining('must start with "input" or "steps"'),
        },
      ]);
    }
  });
});
