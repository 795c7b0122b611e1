/**
 * Statistics over repetitions, and interleaved execution of variants.
 * @module
 */

/** Quantile with linear interpolation between order statistics (R type 7). */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const s = [...samples].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export function median(samples: readonly number[]): number {
  return quantile(samples, 0.5);
}

/** Summary of a sample set. */
export interface Summary {
  n: number;
  median: number;
  q1: number;
  q3: number;
  /** Interquartile range q3 - q1. */
  iqr: number;
  p90: number;
  min: number;
  max: number;
}

export function summarize(samples: readonly number[]): Summary {
  const q1 = quantile(samples, 0.25);
  const q3 = quantile(samples, 0.75);
  return {
    n: samples.length,
    median: median(samples),
    q1,
    q3,
    iqr: q3 - q1,
    p90: quantile(samples, 0.9),
    min: samples.length ? Math.min(...samples) : Number.NaN,
    max: samples.length ? Math.max(...samples) : Number.NaN,
  };
}

/** Element-wise ratio of paired samples (same repetition index). */
export function pairedRatios(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.min(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(a[i]! / b[i]!);
  return out;
}

/**
 * Run every variant once per repetition, interleaved so slow drift (thermal, other load, GC
 * growth) hits all variants alike: the order alternates forward / backward (ABC CBA ABC ...).
 * The first `warmup` repetitions are run and discarded. Returns samples per variant, in
 * repetition order, so samples with the same index are paired.
 */
export async function interleave<V extends string>(
  variants: readonly V[],
  options: { warmup: number; reps: number; onRep?: (rep: number, warm: boolean) => void },
  measure: (variant: V, rep: number) => Promise<number>,
): Promise<Record<V, number[]>> {
  const out = {} as Record<V, number[]>;
  for (const v of variants) out[v] = [];
  const total = options.warmup + options.reps;
  for (let r = 0; r < total; r++) {
    const warm = r < options.warmup;
    options.onRep?.(r, warm);
    const order = r % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      const x = await measure(v, r);
      if (!warm) out[v].push(x);
    }
  }
  return out;
}

/** Format a number with a sensible number of significant digits for tables. */
export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(Math.max(0, digits - 2));
  if (a >= 1) return x.toFixed(Math.max(0, digits - 1));
  return x.toPrecision(digits);
}

/** "median (IQR q1–q3)" cell. */
export function cell(s: Summary, digits = 3): string {
  return `${fmt(s.median, digits)} (${fmt(s.q1, digits)}–${fmt(s.q3, digits)})`;
}
