/**
 * Seeded simulation of the pure parts as the orchestrator uses them: a leader that follows
 * `nextWork`, judges outcomes with `judge` and commits what it decided; idempotent services that
 * fail, answer slowly (effect without answer) or succeed at random; and leader crashes at any
 * point (a call made or not, its outcome lost), after which the next leader resumes from the
 * table. Checked for every seed: the instance ends in a terminal state; a compensation takes effect
 * only after its action did; a Completed instance did every action and undid nothing; in a Compensated or
 * Failed instance every action that took effect was undone, in reverse order; replicas that
 * restore a snapshot half-way end with the same table.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { SeededRandom } from '../core/random.js';
import type { CallOutcome, SagaCommand } from './commands.js';
import { compileSagas, type SagaDefinition } from './definition.js';
import { callOf, judge, nextWork, renderCall } from './decisions.js';
import { SagaTable, TERMINAL_STATES, type SagaInstance } from './saga-table.js';

const ID = 'abcdefabcdefabcdefabcdefabcdef01';

function definition(steps: number, attempts: number): SagaDefinition {
  const result = compileSagas([
    {
      name: 'sim/saga',
      steps: Array.from({ length: steps }, (_, i) => ({
        name: `s${i}`,
        action: {
          method: 'POST' as const,
          url: `http://svc/s${i}`,
          retries: { attempts, backoff: '10ms' },
        },
        ...(i % 3 === 2
          ? {}
          : {
              compensation: {
                method: 'POST' as const,
                url: `http://svc/s${i}/undo`,
                retries: { attempts: 3, backoff: '10ms' },
              },
            }),
      })),
    },
  ]);
  if (!result.ok) throw new Error('bad fixture');
  return result.sagas.get('sim/saga') as SagaDefinition;
}

interface World {
  /** Idempotency key → number of new effects it caused. */
  readonly effects: Map<string, number>;
  /** Keys in the order they first took effect. */
  readonly order: string[];
}

/**
 * An idempotent service: a key takes effect once; a repeat of a key that took effect returns the
 * stored answer. A failure (503, 400) takes no effect; an effect may lose its answer (timeout).
 */
function serve(world: World, key: string, random: SeededRandom, failRate: number): CallOutcome {
  const stored: CallOutcome = { kind: 'response', status: 200, body: { id: key } };
  if (world.effects.has(key)) return stored;
  const roll = random.next();
  if (roll < failRate) return { kind: 'response', status: random.next() < 0.5 ? 503 : 400 };
  world.order.push(key);
  world.effects.set(key, 1);
  if (roll < failRate + 0.1) return { kind: 'error', uncertain: true, message: 'no answer' };
  return stored;
}

function simulate(seed: number): {
  instance: SagaInstance;
  world: World;
  replica: SagaTable;
  table: SagaTable;
} {
  const random = new SeededRandom(seed);
  const def = definition(1 + random.int(5), 1 + random.int(3));
  const failRate = random.next() * 0.5;
  const world: World = { effects: new Map(), order: [] };
  const table = new SagaTable();
  let replica: SagaTable | undefined;
  const halfway = 2 + random.int(6);
  let index = 0;
  const commit = (command: SagaCommand): void => {
    index++;
    table.apply({ index, term: 1 }, command);
    if (index === halfway) replica = SagaTable.restore(table.snapshot());
    else replica?.apply({ index, term: 1 }, command);
  };
  commit({
    op: 'start',
    id: ID,
    saga: def.name,
    input: {},
    steps: def.steps.map((s) => ({ name: s.name, compensable: s.compensation !== undefined })),
    at: 0,
  });
  for (let turn = 0; turn < 500; turn++) {
    const instance = table.get(ID) as SagaInstance;
    const work = nextWork(instance);
    if (work === undefined) break;
    const crash = random.next() < 0.15;
    if (work.kind === 'retry') {
      if (!crash)
        commit({
          op: 'retry',
          id: ID,
          phase: work.phase,
          step: work.step,
          attempt: work.attempt,
          at: turn,
        });
      continue;
    }
    const call = callOf(def, work.phase, work.step);
    if (call === undefined) throw new Error(`no ${work.phase} for step ${work.step}`);
    const request = renderCall(call, instance, work.phase, work.step);
    // A crash before the call, or after it with the outcome lost: the next leader re-issues.
    if (crash && random.next() < 0.5) continue;
    const outcome = serve(world, request.headers['idempotency-key'] as string, random, failRate);
    if (crash) continue;
    commit({
      op: 'outcome',
      id: ID,
      phase: work.phase,
      step: work.step,
      attempt: work.attempt,
      outcome,
      verdict: judge(call, work.attempt, outcome),
      deadlineExceeded: false,
      at: turn,
    });
  }
  return { instance: table.get(ID) as SagaInstance, world, replica: replica ?? table, table };
}

describe('saga state machine (seeded simulation)', () => {
  it('ends terminal, never applies a key twice, undoes every effect of a failed instance in reverse order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const { instance, world, replica, table } = simulate(seed);
        const context = `seed ${seed}: ${instance.state} ${JSON.stringify(world.order)}`;
        expect({ context, terminal: TERMINAL_STATES.has(instance.state) }).toEqual({
          context,
          terminal: true,
        });
        // Nothing is undone that was not done.
        for (const key of world.effects.keys()) {
          if (key.endsWith('-compensation'))
            expect(world.effects.has(key.slice(0, -13))).toBe(true);
        }
        const done = (i: number) => world.effects.has(`${ID}-s${i}`);
        const undone = (i: number) => world.effects.has(`${ID}-s${i}-compensation`);
        const steps = instance.steps.map((s, i) => ({ i, compensable: s.compensable }));
        if (instance.state === 'Completed') {
          expect(steps.every(({ i }) => done(i) && !undone(i))).toBe(true);
        }
        if (instance.state === 'Compensated' || instance.state === 'Failed') {
          for (const { i, compensable } of steps) {
            if (compensable && done(i))
              expect({ context, i, undone: undone(i) }).toEqual({ context, i, undone: true });
          }
          const undos = world.order
            .filter((k) => k.endsWith('-compensation'))
            .map((k) => Number(/-s(\d+)-/.exec(k)?.[1]));
          expect(undos).toEqual([...undos].sort((a, b) => b - a));
        }
        expect(replica.snapshot()).toEqual(table.snapshot());
      }),
      { numRuns: 200 },
    );
  });
});
