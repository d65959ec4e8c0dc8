import { describe, expect, it } from '@jest/globals';
import { basename } from 'node:path';
import { loadExamples } from './examples.js';
import { formatErrors } from './validate.js';
import { validateSidecarConfig } from './sidecar-config-validator.js';
import { validateResource } from './validators.js';

const valid = loadExamples('valid');
const invalid = loadExamples('invalid');

describe('valid examples', () => {
  it('exist for every kind and for the SidecarConfig', () => {
    expect(valid.map((e) => basename(e.file))).toEqual([
      'chaos-experiment.yaml',
      'circuit-breaker.yaml',
      'rate-limit-policy.yaml',
      'saga.yaml',
      'sidecar-config.yaml',
    ]);
  });

  it.each(valid.map((e) => [basename(e.file), e] as const))('%s is accepted', (name, example) => {
    const result = name.startsWith('sidecar-config')
      ? validateSidecarConfig(example.document)
      : validateResource(example.document);
    if (!result.ok) throw new Error(`${name} refused:\n${formatErrors(result.errors)}`);
    expect(result.ok).toBe(true);
  });
});

describe('invalid examples', () => {
  it('cover every kind', () => {
    const kinds = new Set(invalid.map((e) => (e.document as { kind: string }).kind));
    expect([...kinds].sort()).toEqual([
      'ChaosExperiment',
      'CircuitBreaker',
      'RateLimitPolicy',
      'Saga',
    ]);
  });

  it.each(invalid.map((e) => [basename(e.file), e] as const))(
    '%s is refused with a message naming the field',
    (_name, example) => {
      expect(example.expectField).toBeDefined();
      expect(example.expectMessage).toBeDefined();
      const result = validateResource(example.document);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      const match = result.errors.find(
        (e) => e.field === example.expectField && e.message.includes(example.expectMessage ?? ''),
      );
      if (match === undefined) {
        throw new Error(
          `expected "${example.expectField}: …${example.expectMessage}…", got:\n${formatErrors(result.errors)}`,
        );
      }
    },
  );
});

describe('validateResource', () => {
  it('names the kind field for an unknown kind', () => {
    const result = validateResource({ apiVersion: 'palisade.dev/v1alpha1', kind: 'Nope' });
    expect(result).toEqual({
      ok: false,
      errors: [expect.objectContaining({ field: 'kind' })],
    });
  });

  it('refuses a wrong apiVersion', () => {
    const [example] = valid;
    const doc = { ...(example?.document as object), apiVersion: 'palisade.dev/v1' };
    const result = validateResource(doc);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]?.field).toBe('apiVersion');
  });
});

describe('validateSidecarConfig', () => {
  it('refuses a config without app, naming the field', () => {
    const result = validateSidecarConfig({ version: '1' });
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.errors).toContainEqual({ field: 'app', message: 'Required value' });
  });

  it('applies the CRD rules to entries (breaker trip on both)', () => {
    const result = validateSidecarConfig({
      version: '1',
      app: { host: '127.0.0.1', port: 8080 },
      circuitBreakers: [
        {
          policy: 'shop/payments',
          target: { direction: 'inbound' },
          trip: { consecutiveFailures: 1, failureRatio: 0.5, minimumRequests: 1, window: '1s' },
          openDuration: '1s',
        },
      ],
    });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]?.field).toBe('circuitBreakers[0].trip');
  });
});
