import { describe, expect, it } from '@jest/globals';
import type { SidecarSaga } from '@palisade/crds';
import { compileSagas } from './definition.js';
import {
  TemplateError,
  compileString,
  compileValue,
  renderString,
  renderValue,
} from './template.js';

const context = {
  input: { items: ['a', 'b'], total: 42, user: { id: 'u 1/2' } },
  responses: new Map([['reserve', { status: 201, body: { id: 'r-7', lines: [1, 2] } }]]),
};

describe('templates', () => {
  it('substitutes a whole-string template with the raw JSON value', () => {
    const body = compileValue({ items: '{{input.items}}', amount: '{{ input.total }}', fixed: 3 });
    expect(renderValue(body, context)).toEqual({ items: ['a', 'b'], amount: 42, fixed: 3 });
  });

  it('interpolates inside longer strings, percent-encoding URL values', () => {
    const url = compileString(
      'http://x/users/{{input.user.id}}/r/{{steps.reserve.response.body.id}}',
    );
    expect(renderString(url, context, encodeURIComponent)).toBe('http://x/users/u%201%2F2/r/r-7');
    const text = compileValue(
      'lines={{steps.reserve.response.body.lines}} status={{steps.reserve.response.status}}',
    );
    expect(renderValue(text, context)).toBe('lines=[1,2] status=201');
  });

  it('fails at render time on a value the instance does not have', () => {
    expect(() => renderValue(compileValue('{{input.missing}}'), context)).toThrow(
      /input.missing is missing/,
    );
    expect(() => renderValue(compileValue('{{steps.charge.response.body.id}}'), context)).toThrow(
      /step charge has no known response/,
    );
  });

  it('refuses malformed templates when compiled', () => {
    expect(() => compileString('{{secrets.x}}')).toThrow(TemplateError);
    expect(() => compileString('{{steps.a.body.id}}')).toThrow(/steps.<name>.response.body/);
    expect(() => compileString('{{input.a b}}')).toThrow(/path segments/);
    expect(() => compileString('x {{input.a')).toThrow(/unbalanced/);
    expect(() => compileString('{{steps.a.response.status.x}}')).toThrow(/no fields/);
  });
});

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
