/**
 * The import rules of .dependency-cruiser.cjs, run with dependency-cruiser on the real tree (must
 * hold) and on a scratch tree where src/ imports simulators/ (must be reported), so that a rule
 * that matches nothing cannot pass unnoticed.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/process';

const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface Result {
  summary: {
    totalCruised: number;
    violations: Array<{ from: string; to: string; rule: { name: string } }>;
  };
}

function cruise(cwd: string): Result {
  const run = spawnSync(process.execPath, [DEPCRUISE, '--config', CONFIG, '--output-type', 'json', 'src', 'simulators'], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.error) throw run.error;
  // dependency-cruiser exits with the number of errors found; the JSON is written either way.
  if (!run.stdout.trim().startsWith('{')) throw new Error(`dependency-cruiser exited ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout) as Result;
}

test('nothing under src/ imports from simulators/ (the real tree)', () => {
  const { summary } = cruise(ROOT);
  expect(summary.violations).toEqual([]);
  // The exporter and the simulators were both cruised, not an empty selection.
  expect(summary.totalCruised).toBeGreaterThan(40);
});

test('a src/ file importing simulators/ (a value or only a type) is reported', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backup-exporter-import-rules-'));
  try {
    mkdirSync(join(dir, 'src', 'http'), { recursive: true });
    mkdirSync(join(dir, 'simulators'));
    copyFileSync(join(ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'));
    writeFileSync(join(dir, 'simulators', 'framework.ts'), "export interface Faults { hang: boolean }\nexport const start = (): number => 1;\n");
    writeFileSync(join(dir, 'simulators', 'main.ts'), "import { helper } from '../src/http/helper';\nexport const x = helper();\n");
    writeFileSync(join(dir, 'src', 'http', 'helper.ts'), 'export const helper = (): number => 2;\n');
    writeFileSync(join(dir, 'src', 'main.ts'), "import { start } from '../simulators/framework';\nexport const y = start();\n");
    writeFileSync(join(dir, 'src', 'types.ts'), "import type { Faults } from '../simulators/framework';\nexport type F = Faults;\n");
    const { summary } = cruise(dir);
    const found = summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
    expect(found).toEqual([
      'exporter-imports-simulators: src/main.ts -> simulators/framework.ts',
      'exporter-imports-simulators: src/types.ts -> simulators/framework.ts',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
