import { describe, expect, it } from '@jest/globals';
import { ManualScheduler } from '../core/clock.js';
import {
  InstallationOwner,
  installationOwnerReference,
  nextOwner,
  ownedByAnotherInstallation,
  sameOwners,
  type OwnerReference,
} from './installation-owner.js';

const NAME = 'palisade-palisade-system';

/** Lets the lookup's promise settle after timers fired. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('nextOwner', () => {
  const first = installationOwnerReference(NAME, 'uid-1');

  it('takes the UID found, and a new UID over the old one', () => {
    expect(nextOwner(undefined, NAME, 'uid-1')).toEqual(first);
    expect(nextOwner(first, NAME, 'uid-2')?.uid).toBe('uid-2');
    expect(nextOwner(first, NAME, 'uid-1')).toBe(first);
  });

  it('keeps the last owner when the configuration disappeared (uninstall: the GC deletes the objects)', () => {
    expect(nextOwner(first, NAME, undefined)).toBe(first);
    expect(nextOwner(undefined, NAME, undefined)).toBeUndefined();
  });
});

describe('sameOwners', () => {
  const a = installationOwnerReference(NAME, 'uid-1');
  it('compares identities; absent equals none', () => {
    expect(sameOwners(undefined, [])).toBe(true);
    expect(sameOwners([{ ...a, controller: false }], [a])).toBe(true);
    expect(sameOwners([a], [])).toBe(false);
    expect(sameOwners([a], [{ ...a, uid: 'uid-2' }])).toBe(false);
  });
});

describe('ownedByAnotherInstallation', () => {
  const ours = installationOwnerReference(NAME, 'uid-1');
  it("is another's when owned by a webhook configuration of another name only", () => {
    const theirs = installationOwnerReference('palisade-staging', 'uid-9');
    expect(ownedByAnotherInstallation([theirs], [ours])).toBe(true);
    expect(ownedByAnotherInstallation([{ ...ours, uid: 'old' }], [ours])).toBe(false);
    expect(ownedByAnotherInstallation(undefined, [ours])).toBe(false);
    expect(ownedByAnotherInstallation([ours], [])).toBe(true);
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'x', uid: 'u' };
    expect(ownedByAnotherInstallation([deployment], [ours])).toBe(false);
  });
});

describe('InstallationOwner', () => {
  function setup({ name }: { name: string | undefined } = { name: NAME }) {
    const scheduler = new ManualScheduler(0);
    const answers: (string | undefined | Error)[] = [];
    const changes: OwnerReference[] = [];
    const errors: unknown[] = [];
    let lookups = 0;
    const owner = new InstallationOwner({
      name,
      scheduler,
      refreshMs: 1000,
      retryMs: 100,
      lookup: async () => {
        lookups++;
        const answer = answers.length > 1 ? answers.shift() : answers[0];
        if (answer instanceof Error) throw answer;
        return answer;
      },
      onChange: (reference) => changes.push(reference),
      onError: (error) => errors.push(error),
    });
    return { scheduler, answers, changes, errors, owner, lookups: () => lookups };
  }

  it('resolves at start, then follows a re-created configuration; a vanished one keeps the last UID', async () => {
    const { scheduler, answers, changes, owner } = setup();
    answers.push('uid-1');
    await owner.start();
    expect(owner.references().map((r) => r.uid)).toEqual(['uid-1']);
    answers.splice(0, 1, undefined, 'uid-2');
    scheduler.advance(1000);
    await settle();
    expect(owner.references().map((r) => r.uid)).toEqual(['uid-1']);
    scheduler.advance(1000);
    await settle();
    expect(owner.references().map((r) => r.uid)).toEqual(['uid-2']);
    expect(changes.map((c) => c.uid)).toEqual(['uid-1', 'uid-2']);
    owner.stop();
    expect(scheduler.pendingTimers()).toBe(0);
  });

  it('an operator started before the configuration exists writes no owner until it appears', async () => {
    const { scheduler, answers, changes, owner } = setup();
    answers.push(undefined, 'uid-1');
    await owner.start();
    expect(owner.references()).toEqual([]);
    scheduler.advance(1000);
    await settle();
    expect(owner.references().map((r) => r.uid)).toEqual(['uid-1']);
    expect(changes).toHaveLength(1);
    owner.stop();
  });

  it('a failed lookup keeps the owner and is retried after retryMs, not refreshMs', async () => {
    const { scheduler, answers, errors, owner } = setup();
    answers.push('uid-1', new Error('connection refused'), 'uid-1');
    await owner.start();
    scheduler.advance(1000);
    await settle();
    expect(errors).toHaveLength(1);
    expect(owner.references().map((r) => r.uid)).toEqual(['uid-1']);
    expect(scheduler.nextDue()).toBe(1100);
    owner.stop();
  });

  it('a failed first lookup (API not reachable yet) is retried soon, then the owner arrives', async () => {
    const { scheduler, answers, changes, owner, lookups } = setup();
    answers.push(new Error('ECONNRESET'), 'uid-1');
    await owner.start();
    expect(owner.references()).toEqual([]);
    scheduler.advance(100);
    await settle();
    expect(lookups()).toBe(2);
    expect(changes.map((c) => c.uid)).toEqual(['uid-1']);
    owner.stop();
  });

  it('without a webhook configuration: no owner, no lookup, no timer', async () => {
    const { scheduler, owner, lookups } = setup({ name: undefined });
    await owner.start();
    expect(owner.references()).toEqual([]);
    expect(lookups()).toBe(0);
    expect(scheduler.pendingTimers()).toBe(0);
  });
});
