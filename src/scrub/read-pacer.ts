import { ReadPacing, ReadStopped } from '../core/shard-file';

/** Reads are this small when paced: a foreground request never waits behind a big burst (PERF-NOTES). */
export const PACED_CHUNK = 1024 * 1024;
/** The longest idle spell after one read: a pause or a new intensity waits seconds, not minutes, when reads are very slow. */
export const MAX_IDLE_MS = 2000;

/**
 * How one verify thread spaces its reads. Tranquility leaves the disk idle for
 * T times as long as each read took, so a scrub takes at most 1/(T+1) of the
 * disk's time whatever the disk's speed; the rate cap is a token bucket with a
 * 100 ms burst (kept across requests), holding within 10% over any window
 * >= 1 s. Every sleep wakes, and the read stops, when `abortFlag` is set.
 */
export class ReadPacer {
  private nextFree = 0;

  constructor(private readonly abortFlag: Int32Array) {}

  pacing(bytesPerSecond: number, tranquility: number): ReadPacing {
    if (bytesPerSecond <= 0 && tranquility <= 0) return { chunk: 0, after: () => this.sleep(0) };
    return {
      chunk: PACED_CHUNK,
      after: (bytes, ms) => {
        this.sleep(Math.min(tranquility * ms, MAX_IDLE_MS));
        if (bytesPerSecond <= 0) return;
        const now = performance.now();
        this.nextFree = Math.max(this.nextFree, now - 100) + (bytes / bytesPerSecond) * 1000;
        this.sleep(this.nextFree - now);
      },
    };
  }

  private sleep(ms: number): void {
    if (ms > 0) Atomics.wait(this.abortFlag, 0, 0, ms);
    if (Atomics.load(this.abortFlag, 0) !== 0) throw new ReadStopped();
  }
}
