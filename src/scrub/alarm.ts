/** A sleep that a command can cut short, so pause, resume and stop take effect at once. */
export class Alarm {
  private wake: (() => void) | undefined;

  /** Resolves after ms, or at the next ring(); with no ms, only at ring(). */
  sleep(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const t = ms === undefined ? undefined : setTimeout(() => this.settle(resolve), Math.max(0, ms));
      this.wake = () => {
        if (t) clearTimeout(t);
        resolve();
      };
    });
  }

  ring(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private settle(resolve: () => void): void {
    this.wake = undefined;
    resolve();
  }
}
