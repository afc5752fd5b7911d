/** Caps requests in flight per target; waiters give up when their collection's deadline passes. */
interface Waiter {
  signal: AbortSignal;
  grant: () => void;
  reject: (reason: unknown) => void;
}

export class Semaphore {
  private active = 0;
  private readonly waiting: Waiter[] = [];
  /**
   * One abort listener per signal, not one per waiter: thousands of queued requests of one
   * collection would otherwise make every add and remove on the signal's listener list slow.
   */
  private readonly watched = new WeakSet<AbortSignal>();

  constructor(private readonly limit: number) {}

  async acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw signal.reason ?? new Error('aborted');
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    if (!this.watched.has(signal)) {
      this.watched.add(signal);
      signal.addEventListener('abort', () => this.dropWaitersOf(signal), { once: true });
    }
    await new Promise<void>((grant, reject) => this.waiting.push({ signal, grant, reject }));
  }

  release(): void {
    const next = this.waiting.shift();
    // Hand the slot straight to the next waiter so `active` never drops below the real count.
    if (next) next.grant();
    else this.active--;
  }

  get inFlight(): number {
    return this.active;
  }

  private dropWaitersOf(signal: AbortSignal): void {
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const waiter = this.waiting[i];
      if (waiter.signal !== signal) continue;
      this.waiting.splice(i, 1);
      waiter.reject(signal.reason ?? new Error('aborted'));
    }
  }
}
