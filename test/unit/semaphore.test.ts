import { Semaphore } from '../../src/http/semaphore';

test('grants up to the limit, then in order as slots are released', async () => {
  const semaphore = new Semaphore(2);
  const signal = new AbortController().signal;
  const order: number[] = [];
  await semaphore.acquire(signal);
  await semaphore.acquire(signal);
  const third = semaphore.acquire(signal).then(() => order.push(3));
  const fourth = semaphore.acquire(signal).then(() => order.push(4));
  expect(semaphore.inFlight).toBe(2);
  semaphore.release();
  await third;
  semaphore.release();
  await fourth;
  expect(order).toEqual([3, 4]);
  expect(semaphore.inFlight).toBe(2);
});

test('an aborted signal rejects its waiters (and only them) at once, with one listener for all', async () => {
  const semaphore = new Semaphore(1);
  const doomed = new AbortController();
  const other = new AbortController();
  await semaphore.acquire(other.signal);
  const waiters = Array.from({ length: 1000 }, () => semaphore.acquire(doomed.signal));
  const survivor = semaphore.acquire(other.signal);
  doomed.abort(new Error('deadline'));
  const results = await Promise.allSettled(waiters);
  expect(results.every((r) => r.status === 'rejected')).toBe(true);
  semaphore.release();
  await expect(survivor).resolves.toBeUndefined();
  await expect(semaphore.acquire(doomed.signal)).rejects.toThrow('deadline');
});
