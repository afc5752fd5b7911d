/**
 * Deterministic "randomness" for the simulators: every id and number is a hash of a seed and what
 * it names, so a simulator answers the same for the same clock, and costs nothing to store.
 */
import { createHash } from 'node:crypto';

export function digest(seed: string, parts: readonly (string | number)[]): Buffer {
  return createHash('sha256').update(`${seed}\u0000${parts.join('\u0000')}`).digest();
}

/** Eight independent numbers in [0, 1) from one hash, so a job costs one hash, not one per field. */
export function draws(seed: string, ...parts: (string | number)[]): number[] {
  const bytes = digest(seed, parts);
  const out: number[] = [];
  for (let i = 0; i + 4 <= bytes.length; i += 4) out.push(bytes.readUInt32BE(i) / 2 ** 32);
  return out;
}

export function pick<T>(choices: readonly T[], r: number): T {
  return choices[Math.min(choices.length - 1, Math.floor(r * choices.length))]!;
}
