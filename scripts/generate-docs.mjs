#!/usr/bin/env node
// `npm run docs`: writes the blocks of the shared documentation that list the products, so that a new
// product is its own page (docs/providers/<name>.md) plus registrations, and no shared prose to edit.
//
// Each block sits between `<!-- generated: NAME ... -->` and `<!-- end generated: NAME -->` and is
// made from the single sources of its facts:
//   - the provider registry (dist/providers/index.js: name, job kinds, restore points, reports),
//   - exporter.schema.json (each provider block's keys, types, defaults and descriptions),
//   - the simulators' demo list (build/simulators/demo.js: titles and ports),
//   - each provider page: its title (`# Provider: <title> (\`<name>\`)`), its first paragraph, and the
//     first paragraph of its "Permissions" and "Resource naming" sections.
// Everything else on the pages around the markers is hand-written and left alone. A provider page
// without one of REQUIRED_SECTIONS, or a block whose markers are missing, stops the script.
//
// Needs the builds (`npm run build && npm run build:simulators`; `npm run docs` does both first).
// test/integration/generated-docs.test.ts fails while a committed block differs from what this makes.
//
//   npm run docs                          rewrite the generated blocks
//   node scripts/generate-docs.mjs --check   exit 1, naming the files, if a block is out of date
//   --docs-root=DIR                       read and write README.md, docs/ and simulators/README.md under DIR
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** The second-level headings every provider page has, in this order (other sections may come between). */
export const REQUIRED_SECTIONS = ["Configuration", "Permissions", "API calls of one scrape", "What is reported", "Resource naming", "Simulator"];

/** GitHub's heading id of a plain heading (lower case, spaces to dashes, punctuation dropped). */
const anchor = (heading) => heading.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');

/** Text fit for one table cell: one line, no unescaped pipe. */
const cell = (text) => text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|').trim();

/** The registry, the schema and the demo list, from the builds and the committed schema. */
export function loadSources(root = ROOT) {
  const registry = join(root, 'dist', 'providers', 'index.js');
  const demos = join(root, 'build', 'simulators', 'demo.js');
  for (const [file, command] of [
    [registry, 'npm run build'],
    [demos, 'npm run build:simulators'],
  ]) {
    if (!existsSync(file)) throw new Error(`${posix.relative(root, file)} is missing: run \`${command}\` first (npm run docs does)`);
  }
  const { PROVIDERS } = require(registry);
  const { DEMOS } = require(demos);
  const schema = JSON.parse(readFileSync(join(root, 'exporter.schema.json'), 'utf8'));
  return {
    providers: PROVIDERS.map((p) => ({ name: p.name, kinds: [...p.kinds], restorePoints: p.restorePoints, reports: { ...p.reports } })),
    demos: DEMOS.map((d) => ({ product: d.product, title: d.title, port: d.port })),
    schema,
  };
}

/** Splits a page into its first paragraph and its `## ` sections (heading -> lines up to the next one). */
export function parsePage(text, name) {
  const lines = text.split('\n');
  const h1 = /^# Provider: (.+) \(`([^`]+)`\)\s*$/.exec(lines[0] ?? '');
  if (!h1 || h1[2] !== name) throw new Error(`docs/providers/${name}.md: the first line must be "# Provider: <product> (\`${name}\`)"`);
  const sections = new Map();
  let current = null;
  let fence = false;
  for (const line of lines.slice(1)) {
    if (/^(```|~~~)/.test(line)) fence = !fence;
    const h2 = !fence && /^## (.+?)\s*$/.exec(line);
    if (h2) {
      current = [];
      if (!sections.has(h2[1])) sections.set(h2[1], current);
      continue;
    }
    if (current) current.push(line);
  }
  const order = [...sections.keys()];
  const missing = REQUIRED_SECTIONS.filter((s) => !sections.has(s));
  if (missing.length) throw new Error(`docs/providers/${name}.md: missing section(s) ${missing.map((s) => `"## ${s}"`).join(', ')}`);
  const positions = REQUIRED_SECTIONS.map((s) => order.indexOf(s));
  if (positions.some((p, i) => i > 0 && p < positions[i - 1])) {
    throw new Error(`docs/providers/${name}.md: the sections ${REQUIRED_SECTIONS.map((s) => `"${s}"`).join(', ')} must come in this order`);
  }
  const paragraph = (body, what) => {
    const start = body.findIndex((l) => l.trim() !== '');
    const text = start < 0 ? '' : body.slice(start, body.findIndex((l, i) => i > start && l.trim() === '') >>> 0).join('\n').trim();
    if (!text || /^(#|\||```|<|-\s)/.test(text)) throw new Error(`docs/providers/${name}.md: ${what} must start with a paragraph of text`);
    return text;
  };
  return {
    name,
    title: h1[1],
    summary: paragraph(lines.slice(1, lines.findIndex((l, i) => i > 0 && l.startsWith('## ')) >>> 0), 'the page'),
    permissions: paragraph(sections.get('Permissions'), 'its "Permissions" section'),
    resourceNaming: paragraph(sections.get('Resource naming'), 'its "Resource naming" section'),
  };
}

/** A link from the file `from` (repository path) to a section of a provider page. */
function pageLink(from, name, section) {
  const href = posix.relative(posix.dirname(from), `docs/providers/${name}.md`);
  return section ? `${href}#${anchor(section)}` : href;
}

const yesNo = (value) => (value ? 'yes' : '—');

function productsTable(from, pages) {
  const rows = pages.map((p) => `| \`${p.name}\` — ${p.title} | ${cell(p.summary)} ([docs](${pageLink(from, p.name)})) |`);
  return ['| provider | what it reports |', '|---|---|', ...rows].join('\n');
}

function familiesTable(from, providers) {
  const rows = providers.map(
    (p) =>
      `| [\`${p.name}\`](${pageLink(from, p.name, 'What is reported')}) | ${p.kinds.join(', ')} | ${yesNo(p.restorePoints)} | ${yesNo(p.reports.protection)} | ${yesNo(p.reports.storage)} | ${yesNo(p.reports.alerts)} |`,
  );
  return ['| provider | job kinds | restore points | protection and schedules | storage | product alerts |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

function resourcesTable(from, pages) {
  const rows = pages.map((p) => `| [\`${p.name}\`](${pageLink(from, p.name, 'Resource naming')}) | ${cell(p.resourceNaming)} |`);
  return ['| provider | resource |', '|---|---|', ...rows].join('\n');
}

function permissionsTable(from, pages) {
  const rows = pages.map((p) => `| ${p.title} (\`${p.name}\`) | ${cell(p.permissions)} | [providers/${p.name}.md](${pageLink(from, p.name, 'Permissions')}) |`);
  return ['| product | credentials and least privilege | details |', '|---|---|---|', ...rows].join('\n');
}

/** A schema type as the reference tables say it. */
function typeOf(property) {
  const range = (min, max) => (min !== undefined && max !== undefined ? `, ${min}..${max}` : min !== undefined ? `, ≥ ${min}` : max !== undefined ? `, ≤ ${max}` : '');
  switch (property.type) {
    case 'array':
      return `list of ${property.items?.type ?? 'values'}s${property.minItems ? ', not empty' : ''}`;
    case 'object':
      return 'mapping';
    case 'integer':
    case 'number':
      return `${property.type}${range(property.minimum, property.maximum)}`;
    default:
      return property.enum ? `one of ${property.enum.map((v) => `\`${v}\``).join(', ')}` : String(property.type ?? 'any');
  }
}

/** Rows of one block's keys (nested mappings as `parent.key`). */
function keyRows(block, prefix = '') {
  const properties = block.properties ?? {};
  const required = new Set(block.required ?? []);
  return Object.entries(properties).flatMap(([key, property]) => {
    const secret = `${key}_file` in properties;
    const type = `${typeOf(property)}${secret ? ', **secret**' : ''}`;
    const def = required.has(key) ? (prefix ? `required in \`${prefix.slice(0, -1)}\`` : 'required') : property.default !== undefined ? `\`${JSON.stringify(property.default).replace(/^"|"$/g, '')}\`` : '';
    const own = `| \`${prefix}${key}\` | ${type} | ${def} | ${cell(property.description ?? '')} |`;
    return property.type === 'object' && property.properties ? [own, ...keyRows(property, `${prefix}${key}.`)] : [own];
  });
}

function providerBlocks(from, providers, schema) {
  const targets = schema?.properties?.targets?.items?.properties;
  return providers
    .map((p) => {
      const block = targets?.[p.name];
      if (!block) throw new Error(`exporter.schema.json has no "${p.name}" block: run \`npm run build && npm run schema\``);
      return [
        `#### \`${p.name}\` block`,
        '',
        `${cell(block.description ?? '')} Examples, how it authenticates and what it needs: [providers/${p.name}.md](${pageLink(from, p.name, 'Configuration')}).`,
        '',
        '| key | type | default | meaning |',
        '|---|---|---|---|',
        ...keyRows(block),
      ].join('\n');
    })
    .join('\n\n');
}

function portsTable(from, demos) {
  const rows = demos.map(
    (d) => `| \`--${d.product}=ADDR\` | \`127.0.0.1:${d.port}\` | ${d.title} | [${d.product}.md](${pageLink(from, d.product, 'Simulator')}) |`,
  );
  return ['| flag | default | product | what it serves, demo credentials |', '|---|---|---|---|', ...rows].join('\n');
}

/** Every generated block: the file it lives in, its name, and its content. */
export function generatedBlocks({ providers, demos, schema }, pages) {
  return [
    { file: 'README.md', name: 'products', make: (from) => productsTable(from, pages) },
    { file: 'docs/metrics.md', name: 'families', make: (from) => familiesTable(from, providers) },
    { file: 'docs/metrics.md', name: 'resources', make: (from) => resourcesTable(from, pages) },
    { file: 'docs/configuration.md', name: 'provider-blocks', make: (from) => providerBlocks(from, providers, schema) },
    { file: 'docs/security.md', name: 'permissions', make: (from) => permissionsTable(from, pages) },
    { file: 'simulators/README.md', name: 'ports', make: (from) => portsTable(from, demos) },
  ].map((b) => ({ file: b.file, name: b.name, content: b.make(b.file) }));
}

const BEGIN = (name) => new RegExp(`^<!-- generated: ${name}\\b.*-->$`, 'm');
const END = (name) => `<!-- end generated: ${name} -->`;

/** `text` with block `name` replaced by `content`; throws when its markers are missing. */
export function replaceBlock(text, file, name, content) {
  const begin = BEGIN(name).exec(text);
  const end = text.indexOf(END(name));
  if (!begin || end < begin.index) throw new Error(`${file}: no "<!-- generated: ${name} ... -->" ... "${END(name)}" markers`);
  const head = text.slice(0, begin.index + begin[0].length);
  return `${head}\n\n${content}\n\n${text.slice(end)}`;
}

/** The new text of every file with generated blocks, read from `docsRoot`. */
export function render(sources, docsRoot) {
  const pages = sources.providers.map((p) => {
    const file = join(docsRoot, 'docs', 'providers', `${p.name}.md`);
    if (!existsSync(file)) throw new Error(`docs/providers/${p.name}.md is missing: every registered provider has a page`);
    return parsePage(readFileSync(file, 'utf8'), p.name);
  });
  const files = new Map();
  for (const block of generatedBlocks(sources, pages)) {
    const before = files.get(block.file) ?? readFileSync(join(docsRoot, block.file), 'utf8');
    files.set(block.file, replaceBlock(before, block.file, block.name, block.content));
  }
  return files;
}

function main(argv) {
  let check = false;
  let docsRoot = ROOT;
  for (const arg of argv) {
    if (arg === '--check') check = true;
    else if (arg.startsWith('--docs-root=')) docsRoot = resolve(arg.slice('--docs-root='.length));
    else {
      process.stderr.write(`unknown argument ${JSON.stringify(arg)}\nusage: node scripts/generate-docs.mjs [--check] [--docs-root=DIR]\n`);
      return 2;
    }
  }
  let files;
  try {
    files = render(loadSources(ROOT), docsRoot);
  } catch (err) {
    process.stderr.write(`generate-docs: ${err.message}\n`);
    return 1;
  }
  const stale = [...files].filter(([file, text]) => readFileSync(join(docsRoot, file), 'utf8') !== text).map(([file]) => file);
  if (check) {
    if (stale.length) {
      process.stderr.write(`generate-docs: out of date: ${stale.join(', ')}; run \`npm run docs\`\n`);
      return 1;
    }
    return 0;
  }
  for (const file of stale) {
    writeFileSync(join(docsRoot, file), files.get(file));
    process.stdout.write(`wrote ${file}\n`);
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
