/**
 * The normalised model every provider maps its product's answers into, and the state tables that
 * turn each product's own status words into one small set of states.
 */
import { boundedText } from './text';

export const JOB_KINDS = ['backup', 'restore'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const JOB_STATES = ['pending', 'running', 'succeeded', 'warning', 'failed', 'cancelled', 'unknown'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** Job states after which a job never changes again. */
export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set(['succeeded', 'warning', 'failed', 'cancelled']);

export const RESTORE_POINT_STATES = ['available', 'creating', 'deleting', 'deleted', 'error', 'unknown'] as const;
export type RestorePointState = (typeof RESTORE_POINT_STATES)[number];

export interface Job {
  kind: JobKind;
  id: string;
  /** What the job is about: a volume, cluster, backup set or server name. */
  resource: string;
  state: JobState;
  /** The product's own status word, unchanged. */
  status: string;
  /** Unix seconds. */
  startedAt?: number;
  /** Unix seconds; only where the product says when the job ended. */
  endedAt?: number;
  bytes?: number;
  error?: string;
  /** Unix seconds after which a restore's download link stops working (Ops Manager HTTP delivery). */
  deliveryExpiresAt?: number;
}

export interface RestorePoint {
  id: string;
  resource: string;
  vault: string;
  state: RestorePointState;
  /** Unix seconds. */
  createdAt: number;
  bytes?: number;
  /**
   * How many restore points of this resource, vault and state the entry stands for, where a product
   * gives a count and the newest one's time rather than a list (BlueXP's volume inventory); 1 if absent.
   */
  count?: number;
}

/** Whether a resource is backed up on a schedule now, as the product's inventory says. */
export interface ResourceProtection {
  resource: string;
  /** True if the product backs the resource up on a schedule now. */
  protected: boolean;
  /** The product's own word for the resource's backup state. */
  status: string;
  /** Seconds between two scheduled backups, where the product's schedule says it. */
  scheduleIntervalSeconds?: number;
}

/** What a vault, store or quota holds; a field the product does not give stays absent. */
export interface StorageUsage {
  vault: string;
  usedBytes?: number;
  capacityBytes?: number;
}

/** One open backup alert the product itself raised. */
export interface ProductAlert {
  resource: string;
  type: string;
  /** How many open alerts of this resource and type the entry stands for, where a product gives a count; 1 if absent. */
  count?: number;
}

export type StateTable = Readonly<Record<string, JobState>>;

/** How bad a state is, for "the worst member speaks for the whole" (sharded batches, file restore batches). */
const STATE_SEVERITY: Record<JobState, number> = {
  failed: 6,
  unknown: 5,
  cancelled: 4,
  running: 3,
  pending: 2,
  warning: 1,
  succeeded: 0,
};

/** The element with the worst state (the first of equals); `items` must not be empty. */
export function worstOf<T extends { state: JobState }>(items: readonly T[]): T {
  return items.reduce((worst, item) => (STATE_SEVERITY[item.state] > STATE_SEVERITY[worst.state] ? item : worst));
}

/** Maps a product status through its table; the caller logs unknown words (see UnknownStatusLog). */
export function mapStatus(table: StateTable, status: string | undefined | null): JobState {
  if (typeof status !== 'string') return 'unknown';
  return Object.prototype.hasOwnProperty.call(table, status) ? table[status] : 'unknown';
}

/** Longest status word remembered as logged (see boundedText). */
const STATUS_KEY_LENGTH = 128;

/** Remembers which unknown status words were already logged, so each is logged once per process. */
export class UnknownStatusLog {
  private readonly seen = new Set<string>();
  constructor(private readonly limit = 1000) {}
  /** Returns true the first time a (provider, word) pair is seen. */
  firstTime(provider: string, status: string): boolean {
    const key = `${provider}\u0000${boundedText(status, STATUS_KEY_LENGTH)}`;
    if (this.seen.has(key) || this.seen.size >= this.limit) return false;
    this.seen.add(key);
    return true;
  }
}
