/**
 * The one entry `main` calls for sagas, next to `startRaftNode`: the saga table is the Raft
 * node's second state machine (create the {@link SagaMachine} first and pass it as
 * `machine`), the orchestrator runs on whichever member leads, and the router serves API.md's
 * `/v1/sagas/…` on every member.
 */
import type { Router } from 'express';
import type { RawRequestHandler } from '../admin/index.js';
import type { Logger } from 'pino';
import type { SidecarSaga } from '@palisade/crds';
import type { ConfigApplier } from '../config/index.js';
import { systemRandom, type Random } from '../core/random.js';
import type { Metrics } from '../metrics/index.js';
import type { RaftNode } from '../raft-node/index.js';
import type { Tracing } from '../tracing/index.js';
import { compileSagas, type SagaDefinition } from './definition.js';
import { SagaEntryBatcher } from './entry-batcher.js';
import { createHttpCaller } from './http-caller.js';
import { SagaOrchestrator, type SagaLog } from './orchestrator.js';
import { createSagaHttpHandler, createSagaRouter, createSagaService } from './saga-api.js';
import type { SagaMachine } from './saga-machine.js';
import { INSTANCE_STATES } from './saga-table.js';

/** Options of {@link startSagas}. */
export interface StartSagasOptions {
  readonly node: Pick<RaftNode, 'proposeEntry' | 'callLeader' | 'setCallHandler' | 'status'>;
  readonly machine: SagaMachine;
  /** The config's `sagas` (already validated by the config loader). */
  readonly sagas: readonly SidecarSaga[];
  readonly tracing: () => Tracing;
  readonly metrics?: Metrics;
  readonly logger?: Logger;
  readonly random?: Random;
}

/** Sagas, running. */
export interface StartedSagas {
  /** Mount at `/v1`. */
  readonly router: Router;
  /** `admin.intercept(...)`: the same routes without Express (the hot path). */
  readonly httpHandler: RawRequestHandler;
  /** Swaps the definitions when `sagas` changes. */
  readonly applier: ConfigApplier;
  stop(): Promise<void>;
}

function compileOrThrow(sagas: readonly SidecarSaga[]): ReadonlyMap<string, SagaDefinition> {
  const result = compileSagas(sagas);
  if (!result.ok) {
    throw new Error(
      `sagas are invalid: ${result.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
    );
  }
  return result.sagas;
}

/** Builds the orchestrator, the leader-side service and the router. */
export function startSagas(options: StartSagasOptions): StartedSagas {
  const { node, machine, metrics } = options;
  let definitions = compileOrThrow(options.sagas);
  const wallClock = { now: () => Date.now() };
  let leadership: { leader: boolean; term: number } | undefined;
  const batcher = new SagaEntryBatcher({ proposeEntry: (data) => node.proposeEntry(data) });
  const log: SagaLog = {
    propose: (command) => batcher.propose(command),
    leadership: () => {
      // `status()` builds the whole member view (every peer's progress): read it once per
      // event-loop turn, not at every instance transition. A role change is seen one turn late
      // at worst, which costs a refused proposal or a call the next leader repeats with the
      // same key — what a deposed leader's calls in flight cost anyway.
      if (leadership === undefined) {
        const status = node.status();
        leadership = { leader: status.role === 'leader', term: status.term };
        setImmediate(() => {
          leadership = undefined;
        });
      }
      return leadership;
    },
  };
  const caller = createHttpCaller();
  const orchestrator = new SagaOrchestrator({
    log,
    table: () => machine.table,
    definitions: () => definitions,
    caller: caller.call,
    wallClock,
    random: options.random ?? systemRandom,
    tracing: options.tracing,
    metrics,
    logger: options.logger,
  });
  node.setCallHandler(
    createSagaService({
      log,
      table: () => machine.table,
      definitions: () => definitions,
      orchestrator,
      wallClock: wallClock.now,
    }),
  );
  // Instances by state, read from this replica's table at each scrape.
  const removeCollector = metrics?.addCollector(() => {
    const counts = machine.table.counts();
    for (const name of new Set([...definitions.keys(), ...counts.keys()])) {
      const row = counts.get(name);
      for (const state of INSTANCE_STATES)
        metrics.sagaInstances.bind(name, state).set(row?.[state] ?? 0);
    }
  });
  orchestrator.start();
  return {
    router: createSagaRouter((call) => node.callLeader(call)),
    httpHandler: createSagaHttpHandler((call) => node.callLeader(call), {
      logger: options.logger,
    }),
    applier: {
      name: 'sagas',
      prepare(next, change) {
        if (!change.sections.includes('sagas')) return;
        const compiled = compileOrThrow(next.sagas);
        return () => {
          definitions = compiled;
        };
      },
    },
    async stop() {
      orchestrator.stop();
      removeCollector?.();
      await caller.close();
    },
  };
}
