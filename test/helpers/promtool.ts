import { spawnSync } from 'node:child_process';

/** What `promtool check metrics` prints for an exposition: '' when it is clean. */
export function promtoolCheckMetrics(exposition: string): string {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8', timeout: 30_000 });
  if (result.error) throw result.error;
  return `${result.stdout}${result.stderr}`.trim();
}
