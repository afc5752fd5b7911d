/**
 * Resolves in a later turn of the event loop, after the sockets were read:
 * long work (a long list mapped, a history committed, a large target rendered) is cut in slices
 * with it, so that no single turn holds the loop for long.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
