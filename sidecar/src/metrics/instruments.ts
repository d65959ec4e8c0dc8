/**
 * Hot-path instruments. prom-client's own `labels(...)` children still hash and validate the
 * label set on every `inc`/`observe` (and histograms allocate per observation), so the data path
 * uses these instead: a *cell* is a plain object with a number field, bound once per label set
 * (at config time) and incremented with one addition. A *family* owns its cells and renders them
 * in prom-client's format when the registry is scraped; scraping is where all label work happens.
 *
 * Families implement the slice of prom-client's metric interface that `Registry` uses (`name`,
 * `help`, `type`, `get()`), so they live in the same registry as prom-client's process metrics.
 */

/** Label values, positionally, one per label name. */
export type LabelValues<Names extends readonly string[]> = { [K in keyof Names]: string };

type Labels = Record<string, string>;

/** One sample as prom-client's `Registry` renders it. */
interface Sample {
  readonly labels: Labels;
  readonly value: number;
  readonly metricName?: string;
}

/** What `Registry.getMetricsAsString` reads from a metric. */
export interface CollectedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly aggregator: 'sum';
  readonly values: Sample[];
}

/** Name, help text and label names of a family. */
export interface FamilyOptions<Names extends readonly string[]> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: Names;
}

/** Common to every family: cell cache and registry interface. */
abstract class Family<Names extends readonly string[], Cell> {
  readonly name: string;
  readonly help: string;
  abstract readonly type: CollectedMetric['type'];
  readonly aggregator = 'sum' as const;
  readonly labelNames: Names;
  private readonly cells = new Map<string, { labels: Labels; cell: Cell }>();

  constructor(options: FamilyOptions<Names>) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames;
  }

  /**
   * The cell for these label values, created on first use and cached: call at config time (or
   * once per new label value), keep the cell, and use it per request.
   */
  bind(...values: LabelValues<Names>): Cell {
    const key = values.join('\u0000');
    let entry = this.cells.get(key);
    if (entry === undefined) {
      if (values.length !== this.labelNames.length) {
        throw new RangeError(
          `${this.name} takes ${this.labelNames.length} label values, got ${values.length}`,
        );
      }
      const labels: Labels = {};
      this.labelNames.forEach((label, i) => (labels[label] = values[i] as string));
      entry = { labels, cell: this.createCell() };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  /** Drops a label set from the output (e.g. a breaker removed by a reload). */
  remove(...values: LabelValues<Names>): void {
    this.cells.delete(values.join('\u0000'));
  }

  /** Drops every label set. */
  clear(): void {
    this.cells.clear();
  }

  /** For `Registry`: the current samples. */
  get(): Promise<CollectedMetric> {
    const values: Sample[] = [];
    for (const { labels, cell } of this.cells.values()) this.collect(labels, cell, values);
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }

  protected abstract createCell(): Cell;
  protected abstract collect(labels: Labels, cell: Cell, into: Sample[]): void;
}

/** A monotonically increasing count. `inc` takes n ≥ 0 (not checked: hot path). */
export class CounterCell {
  value = 0;

  inc(n = 1): void {
    this.value += n;
  }
}

/** A value that goes up and down. */
export class GaugeCell {
  value = 0;

  set(value: number): void {
    this.value = value;
  }

  inc(n = 1): void {
    this.value += n;
  }

  dec(n = 1): void {
    this.value -= n;
  }
}

/** Observations in fixed buckets (seconds, for durations). */
export class HistogramCell {
  /** Non-cumulative count per bucket; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly upperBounds: readonly number[]) {
    this.counts = new Float64Array(upperBounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.upperBounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

/** A counter family (`_total` names). */
export class CounterFamily<Names extends readonly string[]> extends Family<Names, CounterCell> {
  readonly type = 'counter' as const;

  protected createCell(): CounterCell {
    return new CounterCell();
  }

  protected collect(labels: Labels, cell: CounterCell, into: Sample[]): void {
    into.push({ labels, value: cell.value });
  }
}

/** A gauge family. */
export class GaugeFamily<Names extends readonly string[]> extends Family<Names, GaugeCell> {
  readonly type = 'gauge' as const;

  protected createCell(): GaugeCell {
    return new GaugeCell();
  }

  protected collect(labels: Labels, cell: GaugeCell, into: Sample[]): void {
    into.push({ labels, value: cell.value });
  }
}

/** Options of a histogram family: upper bounds ascending, +Inf implied. */
export interface HistogramFamilyOptions<
  Names extends readonly string[],
> extends FamilyOptions<Names> {
  readonly buckets: readonly number[];
}

/** A histogram family. */
export class HistogramFamily<Names extends readonly string[]> extends Family<Names, HistogramCell> {
  readonly type = 'histogram' as const;
  readonly buckets: readonly number[];

  constructor(options: HistogramFamilyOptions<Names>) {
    super(options);
    for (let i = 1; i < options.buckets.length; i++) {
      if ((options.buckets[i] as number) <= (options.buckets[i - 1] as number)) {
        throw new RangeError(`${options.name}: buckets must be strictly increasing`);
      }
    }
    this.buckets = Object.freeze([...options.buckets]);
  }

  protected createCell(): HistogramCell {
    return new HistogramCell(this.buckets);
  }

  protected collect(labels: Labels, cell: HistogramCell, into: Sample[]): void {
    let cumulative = 0;
    for (let i = 0; i <= this.buckets.length; i++) {
      cumulative += cell.counts[i] as number;
      const le = i < this.buckets.length ? String(this.buckets[i]) : '+Inf';
      into.push({
        labels: { ...labels, le },
        value: cumulative,
        metricName: `${this.name}_bucket`,
      });
    }
    into.push({ labels, value: cell.sum, metricName: `${this.name}_sum` });
    into.push({ labels, value: cell.count, metricName: `${this.name}_count` });
  }
}
