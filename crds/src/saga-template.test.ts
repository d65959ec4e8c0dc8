import { describe, expect, it } from '@jest/globals';
import {
  TemplateError,
  compileString,
  compileValue,
  renderString,
  renderValue,
  sagaTemplateErrors,
} from './saga-template.js';

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

describe('sagaTemplateErrors: the rule the operator and the sidecar share', () => {
  it('accepts earlier steps, and a compensation reading its own response', () => {
    const steps = [
      { name: 'reserve', action: call('http://inv/r', { items: '{{input.items}}' }) },
      {
        name: 'charge',
        action: call('http://pay/c/{{steps.reserve.response.body.id}}'),
        compensation: call('http://pay/refund/{{steps.charge.response.body.id}}'),
      },
    ];
    expect(sagaTemplateErrors(steps, 'spec')).toEqual([]);
  });

  it('names each malformed template and each reference to a later or unknown step', () => {
    const steps = [
      { name: 'reserve', action: call('http://inv/{{steps.charge.response.body.id}}') },
      {
        name: 'charge',
        action: { ...call('http://pay', { user: '{{nope.x}}' }), headers: { x: '{{input.a' } },
        compensation: call('http://pay/{{steps.ghost.response.status}}'),
      },
    ];
    const errors = sagaTemplateErrors(steps, 'spec');
    expect(errors.map((e) => e.field)).toEqual([
      'spec.steps[0].action.url',
      'spec.steps[1].action.headers.x',
      'spec.steps[1].action.body',
      'spec.steps[1].compensation.url',
    ]);
    expect(errors[0]?.message).toMatch(/step "charge", which is not an earlier step/);
    expect(errors[3]?.message).toMatch(/step "ghost"/);
  });
});
