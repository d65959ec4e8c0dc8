import { describe, expect, it } from '@jest/globals';
import { SeededRandom } from '../core/random.js';
import { compileSagas, type SagaDefinition } from './definition.js';
import { classify, judge, renderCall, retryDelayMs } from './decisions.js';
import { SagaTable, type SagaInstance } from './saga-table.js';

const ID = '00000000000000000000000000000abc';

function fixture(): { definition: SagaDefinition; instance: SagaInstance } {
  const compiled = compileSagas([
    {
      name: 'shop/order',
      steps: [
        {
          name: 'reserve',
          action: {
            method: 'POST',
            url: 'http://inv/r',
            headers: { 'X-User': 'u-{{input.user}}' },
            body: { items: '{{input.items}}' },
            retries: { attempts: 3, backoff: '100ms' },
          },
          compensation: {
            method: 'DELETE',
            url: 'http://inv/r/{{steps.reserve.response.body.id}}',
          },
        },
      ],
    },
  ]);
  if (!compiled.ok) throw new Error('fixture');
  const table = new SagaTable();
  table.apply(
    { index: 1, term: 2 },
    {
      op: 'start',
      id: ID,
      saga: 'shop/order',
      input: { user: 7, items: [1] },
      steps: [{ name: 'reserve', compensable: true }],
      at: 0,
    },
  );
  return {
    definition: compiled.sagas.get('shop/order') as SagaDefinition,
    instance: table.get(ID) as SagaInstance,
  };
}

describe('decisions', () => {
  it('classifies: 2xx success; 408, 429, 5xx and no answer retryable; other answers final', () => {
    expect(classify({ kind: 'response', status: 201 })).toBe('success');
    for (const status of [408, 429, 500, 503])
      expect(classify({ kind: 'response', status })).toBe('retryable');
    for (const status of [301, 400, 404, 409])
      expect(classify({ kind: 'response', status })).toBe('final');
    expect(classify({ kind: 'error', uncertain: false, message: 'ECONNREFUSED' })).toBe(
      'retryable',
    );
  });

  it('retries while attempts remain, then fails', () => {
    const call = fixture().definition.steps[0]?.action;
    if (call === undefined) throw new Error('fixture');
    const busy = { kind: 'response', status: 503 } as const;
    expect([1, 2, 3].map((a) => judge(call, a, busy))).toEqual(['retry', 'retry', 'failed']);
    expect(judge(call, 1, { kind: 'response', status: 400 })).toBe('failed');
  });

  it('backs off from the configured base, doubling, with jitter in the upper half', () => {
    const call = fixture().definition.steps[0]?.action;
    if (call === undefined) throw new Error('fixture');
    const random = new SeededRandom(3);
    for (let i = 0; i < 50; i++) {
      const second = retryDelayMs(call, 2, random);
      const third = retryDelayMs(call, 3, random);
      expect(second).toBeGreaterThanOrEqual(100);
      expect(second).toBeLessThanOrEqual(200);
      expect(third).toBeGreaterThanOrEqual(200);
      expect(third).toBeLessThanOrEqual(400);
    }
  });

  it('renders the request with the Idempotency-Key and a JSON body', () => {
    const { definition, instance } = fixture();
    const request = renderCall(definition.steps[0]?.action as never, instance, 'action', 0);
    expect(request).toEqual({
      method: 'POST',
      url: 'http://inv/r',
      headers: {
        'x-user': 'u-7',
        'idempotency-key': `${ID}-reserve`,
        'content-type': 'application/json',
      },
      body: '{"items":[1]}',
      timeoutMs: 5000,
    });
    // The compensation needs the action's response, which this instance does not have yet.
    expect(() =>
      renderCall(definition.steps[0]?.compensation as never, instance, 'compensation', 0),
    ).toThrow(/no known response/);
  });
});
