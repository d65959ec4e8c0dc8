import { describe, expect, it } from '@jest/globals';
import { foldScrape, newRunHistory, observe } from './chaos-observation.js';
import { emptySample, type SidecarSample } from './sidecar-metrics.js';

function sample(extra: Partial<SidecarSample>): SidecarSample {
  return { ...emptySample(), ...extra };
}

/** A sample with `n` instances of one saga in `state`. */
function sagas(state: string, n: number): SidecarSample {
  return sample({ sagaInstances: new Map([['shop/order', new Map([[state, n]])]]) });
}

describe('foldScrape/observe', () => {
  const options = { experiment: 'shop/drill', targets: new Set(['a']), windowMs: 10_000 };

  it('counts increases from each pod first sample, targets only for the error ratio', () => {
    const h = newRunHistory();
    foldScrape(
      h,
      {
        at: 0,
        pods: new Map([
          ['a', sample({ requests: 50, errors: 5 })],
          ['b', sample({ rateLimited: 3 })],
        ]),
      },
      options,
    );
    expect(observe(h).errorRatio).toEqual({ errors: 0, requests: 0 });
    foldScrape(
      h,
      {
        at: 2000,
        pods: new Map([
          ['a', sample({ requests: 150, errors: 45, faults: { 'shop/drill': { abort: 40 } } })],
          ['b', sample({ rateLimited: 8, requests: 1000, errors: 1000 })],
        ]),
      },
      options,
    );
    const seen = observe(h);
    expect(seen.errorRatio).toEqual({ errors: 40, requests: 100 });
    expect(seen.rateLimited).toBe(5);
    expect(seen.injected).toEqual({ abort: 40 });
  });

  it('treats a counter that went down as a restart and keeps only the window', () => {
    const h = newRunHistory();
    const scrape = (at: number, requests: number, errors: number) =>
      foldScrape(h, { at, pods: new Map([['a', sample({ requests, errors })]]) }, options);
    scrape(0, 100, 0);
    scrape(5000, 200, 100); // +100 requests, +100 errors
    scrape(10_000, 10, 0); // restarted: +10 requests
    expect(observe(h).errorRatio).toEqual({ errors: 100, requests: 110 });
    scrape(16_000, 110, 0); // +100 requests; the window now starts after the error burst
    expect(observe(h).errorRatio).toEqual({ errors: 0, requests: 110 });
  });

  it('remembers when each breaker was first seen open and lists those open now', () => {
    const h = newRunHistory();
    foldScrape(
      h,
      { at: 1000, pods: new Map([['b', sample({ openBreakers: ['shop/payments'] })]]) },
      options,
    );
    foldScrape(
      h,
      {
        at: 3000,
        pods: new Map([
          ['b', sagas('Running', 1)],
          ['c', sagas('Compensating', 1)],
        ]),
      },
      options,
    );
    const seen = observe(h);
    expect(seen.breakersOpenedAt).toEqual(new Map([['shop/payments', 1000]]));
    expect(seen.openBreakers).toEqual(new Set());
    expect(seen.sagasNonTerminal).toBe(1);
  });

  it('sees a lease change when the max over the targets exceeds the first scrape', () => {
    const h = newRunHistory();
    const targets = { ...options, targets: new Set(['a', 'b']) };
    const changes = (jobs: number) => sample({ leaseHolderChanges: new Map([['jobs', jobs]]) });
    // A scrape that reaches no target is no baseline.
    foldScrape(h, { at: 500, pods: new Map([['c', changes(1)]]) }, targets);
    foldScrape(h, { at: 1000, pods: new Map([['a', changes(5)]]) }, targets);
    // b restarted and replays less; c (not a target) counts more; neither is a change.
    foldScrape(
      h,
      {
        at: 2000,
        pods: new Map([
          ['b', changes(2)],
          ['c', changes(9)],
        ]),
      },
      targets,
    );
    expect(observe(h).leasesChangedAt).toEqual(new Map());
    foldScrape(
      h,
      {
        at: 3000,
        pods: new Map([
          ['a', changes(6)],
          ['b', sample({ leaseHolderChanges: new Map([['other', 1]]) })],
        ]),
      },
      targets,
    );
    foldScrape(h, { at: 4000, pods: new Map([['a', changes(7)]]) }, targets);
    expect(observe(h).leasesChangedAt).toEqual(
      new Map([
        ['jobs', 3000],
        ['other', 3000],
      ]),
    );
  });
});
