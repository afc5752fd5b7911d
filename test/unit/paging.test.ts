import pino from 'pino';
import { mapLimited, offsetPaging, readPages } from '../../src/providers/kit';
import { numberValue } from '../../src/providers/util';
import type { CollectContext } from '../../src/providers/types';

/** A fake product holding `total` items, answering `count` as given (or the truth when undefined). */
function listOf(total: number, count?: (offset: number) => number | undefined) {
  const asked: number[] = [];
  let inFlight = 0;
  let peak = 0;
  const ctx = {
    http: {
      json: async ({ query }: { query: Record<string, unknown> }) => {
        const offset = Number(query.offset ?? 0);
        asked.push(offset);
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        const n = Math.max(0, Math.min(1000, total - offset));
        return { items: Array.from({ length: n }, (_, i) => offset + i), count: count ? count(offset) : total };
      },
    },
    log: pino({ level: 'silent' }),
    signal: new AbortController().signal,
  } as unknown as CollectContext;
  return { ctx, asked, peak: () => peak };
}

async function read(list: ReturnType<typeof listOf>, maxPages = 50): Promise<number[]> {
  const seen: number[] = [];
  await readPages(list.ctx, '/v3/p/backups', {}, offsetPaging(1000, maxPages, 'items'), (items) => seen.push(...(items as number[])));
  return seen.sort((a, b) => a - b);
}

test('the first page\'s count lets the other pages be requested at once', async () => {
  const list = listOf(2500);
  expect(await read(list)).toHaveLength(2500);
  expect(list.asked).toEqual([0, 1000, 2000]);
  expect(list.peak()).toBe(2);
});

test('without a count it pages on until a short page', async () => {
  const list = listOf(2500, () => undefined);
  expect(await read(list)).toHaveLength(2500);
  expect(list.asked).toEqual([0, 1000, 2000]);
  expect(list.peak()).toBe(1);
});

test('a list whose later pages say it grew is read on until a short page', async () => {
  const list = listOf(3500, (offset) => (offset === 0 ? 2000 : 3500));
  expect(await read(list)).toHaveLength(3500);
  expect(list.asked).toEqual([0, 1000, 2000, 3000]);
});

test('a full last page at the count asks no more', async () => {
  const list = listOf(2000);
  expect(await read(list)).toHaveLength(2000);
  expect(list.asked).toEqual([0, 1000]);
});

test('without a count, an exact multiple of the page size ends with an empty page', async () => {
  const list = listOf(2000, () => undefined);
  expect(await read(list)).toHaveLength(2000);
  expect(list.asked).toEqual([0, 1000, 2000]);
});

test('never more than maxPages, even if the count says more', async () => {
  const list = listOf(1_000_000);
  expect(await read(list, 4)).toHaveLength(4000);
  expect(list.asked).toEqual([0, 1000, 2000, 3000]);
});

test('a product that ignores paging (a first page longer than asked for) is read once', async () => {
  const list = listOf(2500);
  const asked: number[] = [];
  const ctx = {
    ...list.ctx,
    http: {
      json: async ({ query }: { query: Record<string, unknown> }) => {
        asked.push(Number(query.offset ?? 0));
        return { items: Array.from({ length: 2500 }, (_, i) => i), count: 2500 };
      },
    },
  } as unknown as typeof list.ctx;
  const seen: number[] = [];
  await readPages(ctx, '/v3/p/backups', {}, offsetPaging(1000, 50, 'items'), (items) => seen.push(...(items as number[])));
  expect(asked).toEqual([0]);
  expect(seen).toHaveLength(2500);
});

test('a list cut at the page bound is logged as cut; one read whole is not', async () => {
  const warned = (list: ReturnType<typeof listOf>) => {
    const lines: string[] = [];
    (list.ctx as { log: unknown }).log = { warn: (_fields: object, message: string) => lines.push(message) };
    return lines;
  };
  const cut = listOf(1_000_000);
  const cutLines = warned(cut);
  await read(cut, 4);
  expect(cutLines).toEqual(['list longer than the page bound; the rest is not read']);
  const whole = listOf(4000);
  const wholeLines = warned(whole);
  expect(await read(whole, 4)).toHaveLength(4000);
  expect(wholeLines).toEqual([]);
});

describe('mapLimited', () => {
  test('keeps the order, never exceeds the limit, starts nothing after a failure', async () => {
    let inFlight = 0;
    let most = 0;
    const started: number[] = [];
    const work = async (n: number) => {
      started.push(n);
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, n % 3));
      inFlight--;
      if (n === 13) throw new Error('13');
      return n * 2;
    };
    expect(await mapLimited([1, 2, 3, 4, 5, 6, 7], 3, work)).toEqual([2, 4, 6, 8, 10, 12, 14]);
    expect(most).toBe(3);
    started.length = 0;
    await expect(mapLimited(Array.from({ length: 40 }, (_, i) => i + 10), 2, work)).rejects.toThrow('13');
    await new Promise((r) => setTimeout(r, 20));
    expect(Math.max(...started)).toBeLessThan(17);
    expect(await mapLimited([], 4, work)).toEqual([]);
  });
});

describe('numberValue', () => {
  test.each([
    [42, 42],
    [-1.5, -1.5],
    ['42', 42],
    [' 7 ', 7],
    ['-60', -60],
    ['1.25', 1.25],
    ['1e3', undefined],
    ['0x10', undefined],
    ['', undefined],
    ['12 GB', undefined],
    [Number.NaN, undefined],
    [Infinity, undefined],
    [null, undefined],
    [true, undefined],
  ])('%p -> %p', (value, expected) => {
    expect(numberValue(value)).toBe(expected);
  });
});
