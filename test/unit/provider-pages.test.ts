/**
 * Every registered provider has its page, docs/providers/<name>.md, with the sections every provider
 * page has (the list scripts/generate-docs.mjs enforces), and the generated blocks of the shared
 * pages name every registered provider and simulator with the registry's facts. This reads the
 * sources (src/, simulators/), not the builds the generator reads, so a block left stale by a
 * forgotten `npm run docs` fails here even when dist/ is stale too.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROVIDERS } from '../../src/providers';
import { DEMOS } from '../../simulators/demo';

const ROOT = join(__dirname, '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** The generator's own list, read from its source so that there is one. */
const REQUIRED_SECTIONS: string[] = (() => {
  const m = /^export const REQUIRED_SECTIONS = (\[.*\]);$/m.exec(read('scripts/generate-docs.mjs'));
  if (!m) throw new Error('scripts/generate-docs.mjs: no one-line `export const REQUIRED_SECTIONS = [...]`');
  return JSON.parse(m[1]) as string[];
})();

/** The second-level headings of a page, outside code fences. */
function sections(text: string): string[] {
  let fence = false;
  const found: string[] = [];
  for (const line of text.split('\n')) {
    if (/^(```|~~~)/.test(line)) fence = !fence;
    else if (!fence && line.startsWith('## ')) found.push(line.slice(3).trim());
  }
  return found;
}

/** The text between a block's markers. */
function block(file: string, name: string): string {
  const text = read(file);
  const begin = text.search(new RegExp(`^<!-- generated: ${name}\\b.*-->$`, 'm'));
  const end = text.indexOf(`<!-- end generated: ${name} -->`);
  expect(begin).toBeGreaterThanOrEqual(0);
  expect(end).toBeGreaterThan(begin);
  return text.slice(begin, end);
}

const tableRows = (text: string) => text.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('|---'));

test('the required sections are the ones docs/design-decisions.md ("Adding a product") names', () => {
  expect(REQUIRED_SECTIONS.length).toBeGreaterThan(3);
  const adding = read('docs/design-decisions.md');
  for (const section of REQUIRED_SECTIONS) expect(adding).toContain(`*${section}*`);
});

describe.each(PROVIDERS.map((p) => [p.name, p] as const))('docs/providers/%s.md', (name) => {
  const file = join(ROOT, 'docs', 'providers', `${name}.md`);
  const text = () => readFileSync(file, 'utf8');

  test('exists, titled "# Provider: <product> (`<name>`)"', () => {
    expect(existsSync(file)).toBe(true);
    expect(text().split('\n')[0]).toMatch(new RegExp(`^# Provider: .+ \\(\`${name}\`\\)$`));
  });

  test('has every required section, in order', () => {
    const found = sections(text());
    const at = REQUIRED_SECTIONS.map((s) => found.indexOf(s));
    expect(REQUIRED_SECTIONS.filter((_, i) => at[i] < 0)).toEqual([]);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });

  test.each(['Permissions', 'Resource naming'])('"%s" starts with a paragraph of text (the shared tables quote it)', (section) => {
    const body = text().split(`\n## ${section}\n`)[1] ?? '';
    const first = body.split('\n').find((l) => l.trim() !== '') ?? '';
    expect(first).toMatch(/^(?!```)[^#|<\s-]/);
  });
});

test('every page in docs/providers/ is a registered provider', () => {
  const pages = readdirSync(join(ROOT, 'docs', 'providers')).filter((f) => f.endsWith('.md')).map((f) => f.slice(0, -3));
  expect(pages.sort()).toEqual(PROVIDERS.map((p) => p.name).sort());
});

describe('the generated blocks name every registered provider (else run: npm run docs)', () => {
  test('README.md products: one row per provider, in registry order', () => {
    const rows = tableRows(block('README.md', 'products')).slice(1);
    expect(rows.map((r) => /^\| `([^`]+)` — /.exec(r)?.[1])).toEqual(PROVIDERS.map((p) => p.name));
  });

  test('docs/metrics.md families: the registry\'s job kinds, restore points and reports', () => {
    const rows = tableRows(block('docs/metrics.md', 'families')).slice(1);
    const yes = (b: boolean) => (b ? 'yes' : '—');
    expect(rows).toEqual(
      PROVIDERS.map(
        (p) =>
          `| [\`${p.name}\`](providers/${p.name}.md#what-is-reported) | ${p.kinds.join(', ')} | ${yes(p.restorePoints)} | ${yes(p.reports.protection)} | ${yes(p.reports.storage)} | ${yes(p.reports.alerts)} |`,
      ),
    );
  });

  test('docs/metrics.md resources, docs/security.md permissions: one row per provider', () => {
    const named = (file: string, name: string) => tableRows(block(file, name)).slice(1).map((r) => /`([a-z0-9]+)`/.exec(r)?.[1]);
    expect(named('docs/metrics.md', 'resources')).toEqual(PROVIDERS.map((p) => p.name));
    expect(tableRows(block('docs/security.md', 'permissions')).slice(1).map((r) => /\(`([a-z0-9]+)`\) \|/.exec(r)?.[1])).toEqual(
      PROVIDERS.map((p) => p.name),
    );
  });

  test('docs/configuration.md provider blocks: one section per provider', () => {
    const headings = [...block('docs/configuration.md', 'provider-blocks').matchAll(/^#### `([^`]+)` block$/gm)].map((m) => m[1]);
    expect(headings).toEqual(PROVIDERS.map((p) => p.name));
  });

  test('simulators/README.md ports: every demo simulator with its port', () => {
    const rows = tableRows(block('simulators/README.md', 'ports')).slice(1);
    expect(rows.map((r) => /^\| `--([^=]+)=ADDR` \| `127\.0\.0\.1:(\d+)` \|/.exec(r)?.slice(1, 3))).toEqual(DEMOS.map((d) => [d.product, String(d.port)]));
  });
});
