/**
 * bcrypt password checks on a worker thread. bcrypt is slow on purpose (tens of milliseconds per
 * check); on the event loop a client guessing passwords would stall every scrape and health check.
 */
import { Worker } from 'node:worker_threads';

/** Checks waiting for the worker at most; beyond, a check is refused at once (the caller denies). */
export const MAX_PENDING_CHECKS = 32;

/** The worker: loads bcryptjs from the path it is given, answers { id, ok } for each { id, password, hash }. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcrypt);
parentPort.on('message', ({ id, password, hash }) => {
  let ok = false;
  try { ok = bcrypt.compareSync(password, hash); } catch { ok = false; }
  parentPort.postMessage({ id, ok });
});
`;

export class PasswordChecker {
  private worker?: Worker;
  private nextId = 0;
  private readonly pending = new Map<number, (ok: boolean) => void>();

  /**
   * Whether `password` matches the bcrypt `hash`; 'busy' when MAX_PENDING_CHECKS are already
   * waiting. Never rejects: a failed worker denies.
   */
  check(password: string, hash: string): Promise<boolean | 'busy'> {
    if (this.pending.size >= MAX_PENDING_CHECKS) return Promise.resolve('busy');
    const worker = this.started();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      worker.postMessage({ id, password, hash });
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.failAll();
    if (worker) await worker.terminate();
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcrypt: require.resolve('bcryptjs') } });
    worker.on('message', ({ id, ok }: { id: number; ok: boolean }) => {
      const resolve = this.pending.get(id);
      this.pending.delete(id);
      resolve?.(ok === true);
    });
    const lost = () => {
      if (this.worker === worker) this.worker = undefined;
      this.failAll();
    };
    worker.on('error', lost);
    worker.on('exit', lost);
    // Checks are answered while requests wait for them; an idle worker must not keep the process
    // alive. After the listeners: adding one refs the worker's port again.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private failAll(): void {
    for (const resolve of this.pending.values()) resolve(false);
    this.pending.clear();
  }
}
