import type { RequestScope } from '../../src/http/client';

/** A request scope whose deadline is `ms` from now; call done() to clear its timer. */
export function scopeFor(ms: number): RequestScope & { done(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error('deadline')), ms);
  return {
    signal: controller.signal,
    deadline: Date.now() + ms,
    requests: 0,
    done: () => clearTimeout(timer),
  };
}
