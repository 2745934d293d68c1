/** Millisecond latencies in 1 ms buckets: constant memory and cost per sample, exact max. */
export class LatencyHistogram {
  private readonly buckets: Uint32Array
  private overflow = 0
  count = 0
  max = 0

  constructor(private readonly limitMs = 120_000) {
    this.buckets = new Uint32Array(limitMs + 1)
  }

  /** Records one sample; negative values (clock granularity) count as 0. */
  record(ms: number): void {
    const value = ms < 0 ? 0 : Math.round(ms)
    this.count++
    if (value > this.max) this.max = value
    if (value > this.limitMs) this.overflow++
    else this.buckets[value]!++
  }

  /** The smallest value at or below which `p` percent of the samples lie (p in 0–100). */
  percentile(p: number): number {
    if (this.count === 0) return 0
    const rank = Math.max(1, Math.ceil((p / 100) * this.count))
    let seen = 0
    for (let ms = 0; ms < this.buckets.length; ms++) {
      seen += this.buckets[ms]!
      if (seen >= rank) return ms
    }
    return this.max
  }

  summary(): { count: number; p50: number; p90: number; p99: number; max: number } {
    return {
      count: this.count,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      max: this.max,
    }
  }
}
