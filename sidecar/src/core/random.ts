/**
 * Randomness as the pure modules see it: passed in, never global, so that a seeded run
 * replays exactly.
 */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
}

/** `Math.random` for production. */
export const systemRandom: Random = { next: () => Math.random() };

/**
 * Seeded PRNG (mulberry32): fast, 32-bit state, good enough for sampling and simulation
 * schedules. Not for cryptography.
 */
export class SeededRandom implements Random {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}
