/**
 * Plumbing every provider shares: the sink its pure mapping functions report problems to, and the
 * pager that reads a paged list of a product's API.
 */
import { lruCache } from '../lru';
import type { QueryValue } from '../http/client';
import { CollectError } from '../http/errors';
import { isObject, truncate } from '../text';
import type { CollectContext } from './types';
import { stringField } from './util';
import { nextTurn } from '../event-loop';

// ---------------------------------------------------------------------------------------------
// Problems found while mapping

/** Where pure mapping functions report what they could not use. */
export interface MappingSink {
  /** A status word the provider's state table does not know. */
  unknownStatus(status: string): void;
  /** Part of an answer that could not be used (the rest of the answer still is). */
  problem(message: string): void;
}

/**
 * `item` and its `id` when it is an object that has one; otherwise the problem is reported
 * (`<what> is not an object`, `<what> without an id`) and the item is left out.
 */
export function objectWithId(item: unknown, what: string, sink: MappingSink): { fields: Record<string, unknown>; id: string } | undefined {
  if (!isObject(item)) {
    sink.problem(`${what} is not an object`);
    return undefined;
  }
  const id = stringField(item, 'id');
  if (!id) {
    sink.problem(`${what} without an id`);
    return undefined;
  }
  return { fields: item, id };
}

/** New problems logged per collection; the rest are counted in one line. */
export const MAX_LOGGED_PROBLEMS = 20;
/** Problems remembered per target as already logged (the same list is read on every scrape). */
const MAX_REMEMBERED_PROBLEMS = 10_000;
/** Longest problem text logged: it may quote an answer's values. */
const MAX_PROBLEM_LENGTH = 300;

/**
 * The problems of one target's answers: each logged once per target, at most MAX_LOGGED_PROBLEMS
 * new ones per collection, so neither a bad day nor a product that repeats itself floods the log.
 */
export class ProblemLog {
  private readonly logged = lruCache<string, true>(MAX_REMEMBERED_PROBLEMS);

  /** `product` names the product in the log line (e.g. "Ops Manager"). */
  constructor(private readonly product: string) {}

  /** A sink for one collection; call flush() when the collection ends. */
  sink(ctx: Pick<CollectContext, 'log' | 'unknownStatus'>): MappingSink & { flush(): void } {
    let fresh = 0;
    const message = `${this.product} answer partly unusable`;
    return {
      unknownStatus: (status) => ctx.unknownStatus(status),
      problem: (problem) => {
        const text = truncate(problem, MAX_PROBLEM_LENGTH);
        if (this.logged.has(text)) return;
        this.logged.set(text, true);
        fresh++;
        if (fresh <= MAX_LOGGED_PROBLEMS) ctx.log.warn({ problem: text }, message);
      },
      flush: () => {
        if (fresh > MAX_LOGGED_PROBLEMS) {
          ctx.log.warn({ problems: fresh, logged: MAX_LOGGED_PROBLEMS }, `${this.product} answers had more problems than were logged`);
        }
        fresh = 0;
      },
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Long lists in slices

/** Items handled in one turn of the event loop: a few milliseconds of mapping or summarising. */
export const SLICE = 2000;

/**
 * Calls `work` on `items` a slice at a time, with a turn of the event loop between slices, so that
 * a list of a million items never holds the loop (health checks, other scrapes) for long; stops with
 * a timeout when the collection's deadline passed meanwhile.
 */
export async function inSlices<A extends readonly unknown[]>(ctx: Pick<CollectContext, 'signal'>, items: A, work: (slice: A) => void): Promise<void> {
  for (let at = 0; at < items.length; at += SLICE) {
    if (at > 0) {
      await nextTurn();
      if (ctx.signal.aborted) throw new CollectError('timeout', 'deadline exceeded while a long list was read');
    }
    work(items.length <= SLICE ? items : (items.slice(at, at + SLICE) as unknown as A));
  }
}

// ---------------------------------------------------------------------------------------------
// Paged lists

/** How a product pages a list: the query of each page and where the answer keeps items and total. */
export interface Paging {
  /** Items per page asked for (the product's maximum). */
  pageSize: number;
  /** Pages read at most; a longer list is cut there, and a warning says so. */
  maxPages: number;
  /** The query parameters of the page at `index` (0 is the first). */
  query(index: number): Record<string, QueryValue>;
  /** The key of the answer's list. */
  listKey: string;
  /** The key of the answer's total item count. */
  totalKey: string;
}

/** Pages by number, 1-based (Ops Manager: pageNum, itemsPerPage; answer {results, totalCount}). */
export function pageNumberPaging(pageSize: number, maxPages: number): Paging {
  return { pageSize, maxPages, listKey: 'results', totalKey: 'totalCount', query: (index) => ({ pageNum: index + 1, itemsPerPage: pageSize }) };
}

/**
 * Pages by offset (CBR: limit, offset; answer {<list>, count}). The first page leaves offset out,
 * where a product's documentation is unsure whether 0 is allowed.
 */
export function offsetPaging(pageSize: number, maxPages: number, listKey: string): Paging {
  return {
    pageSize,
    maxPages,
    listKey,
    totalKey: 'count',
    query: (index) => ({ limit: pageSize, offset: index > 0 ? index * pageSize : undefined }),
  };
}

/**
 * Reads every page of a list, handing each page's items to `onPage` as it arrives (a long page in
 * slices, see inSlices), so the raw answers of a long list are never all in memory together. The first page's total says how many
 * pages follow: those are requested at once. Without a usable total, or if a later page's total says
 * the list grew meanwhile, it pages on until a page comes back short; never more than paging.maxPages. A first page longer
 * than asked for comes from a product that ignores paging, and is taken as the whole list.
 */
export async function readPages(
  ctx: Pick<CollectContext, 'http' | 'log' | 'signal'>,
  path: string,
  query: Record<string, QueryValue>,
  paging: Paging,
  onPage: (items: unknown[]) => void,
): Promise<void> {
  const readPage = async (index: number): Promise<{ length: number; total?: number }> => {
    const body = await ctx.http.json({ path, query: { ...query, ...paging.query(index) } });
    const list = isObject(body) ? body[paging.listKey] : undefined;
    if (!Array.isArray(list)) {
      throw new CollectError('invalid_response', `GET ${path} page ${index + 1}: answer has no "${paging.listKey}" list`);
    }
    await inSlices(ctx, list, onPage);
    const total = isObject(body) ? body[paging.totalKey] : undefined;
    return { length: list.length, total: typeof total === 'number' && Number.isSafeInteger(total) && total >= 0 ? total : undefined };
  };
  const { pageSize, maxPages } = paging;
  let last = await readPage(0);
  // A page longer than asked for is a product that does not page: that page is the whole list.
  if (last.length > pageSize) return;
  let next = 1;
  let total = last.total;
  if (last.length === pageSize && total !== undefined && total > pageSize) {
    const pages = Math.min(Math.ceil(total / pageSize), maxPages);
    const rest = await Promise.all(Array.from({ length: pages - 1 }, (_, i) => readPage(i + 1)));
    last = rest[rest.length - 1] ?? last;
    total = Math.max(total, ...rest.map((page) => page.total ?? 0));
    next = pages;
  }
  // Page on while the last page was full and the list may go on: no total said how long it is, or
  // a later page's total says it grew. A full last page at a total that says it ended asks no more.
  const mayGoOn = () => last.length === pageSize && next < maxPages && (total === undefined || total > next * pageSize);
  for (; mayGoOn(); next++) {
    last = await readPage(next);
    if (last.total !== undefined) total = Math.max(total ?? 0, last.total);
  }
  if (next >= maxPages && last.length === pageSize && (total === undefined || total > next * pageSize)) ctx.log.warn({ path, pages: maxPages }, 'list longer than the page bound; the rest is not read');
}

/**
 * Runs `work` over `items` with at most `limit` in flight, results in order. The HTTP pool bounds
 * the requests anyway; this also keeps thousands of items (user-days, clusters) from all being prepared at
 * once, and starts nothing more once one has failed (the collection is lost then).
 */
export async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    // After a failure the collection is lost: start nothing more.
    while (next < items.length && !failed) {
      const index = next++;
      try {
        results[index] = await work(items[index]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
