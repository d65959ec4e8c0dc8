/**
 * The per-file set-up every black-box sidecar test shares: a generous timeout (real processes on
 * a shared 2-core machine), one build before the file, and resources stopped after each test in
 * reverse order of creation.
 */
import { afterEach, beforeAll, jest } from '@jest/globals';
import { startEchoServer, type EchoServer } from './echo-server.js';
import {
  buildSidecar,
  startSidecarProcess,
  type SidecarProcess,
  type TestConfig,
} from './sidecar-process.js';

/** What a test file gets from {@link useSidecarHarness}. */
export interface SidecarHarness {
  /** Runs `cleanup` after the current test (last registered, first run). */
  defer(cleanup: () => Promise<void>): void;
  /** An echo upstream, stopped after the test. */
  echo(): Promise<EchoServer>;
  /** A real sidecar process with `config`, stopped after the test. */
  sidecar(config: TestConfig, args?: readonly string[]): Promise<SidecarProcess>;
}

/** Registers the hooks; call once at the top level of a test file. */
export function useSidecarHarness(): SidecarHarness {
  jest.setTimeout(60_000);
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  beforeAll(() => buildSidecar(), 180_000);
  const defer = (cleanup: () => Promise<void>): void => {
    cleanups.push(cleanup);
  };
  return {
    defer,
    async echo() {
      const server = await startEchoServer();
      defer(() => server.stop());
      return server;
    },
    async sidecar(config, args = []) {
      const process = await startSidecarProcess({ config, args });
      defer(() => process.stop());
      return process;
    },
  };
}
