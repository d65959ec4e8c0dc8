import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';

describe('jest runs ESM', () => {
  it('loads the ESM-only Kubernetes client', () => {
    expect(typeof k8s.KubeConfig).toBe('function');
  });
});
