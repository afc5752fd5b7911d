/**
 * Loads exporter.yml: YAML -> ${ENV} expansion -> schema validation -> secret and CA files read ->
 * globals merged into targets. Every problem found is reported at once in one ConfigError, each as
 * `<path>: <message>`; no message ever contains a secret value.
 */
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { isNode, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { PROVIDER_NAMES } from '../providers';
import { closestMatch, isObject, quoteForMessage } from '../text';
import { configJsonSchema } from './write-json-schema';
import { configSchema, SECRET_PATHS, type Config, type ParsedConfig, type TargetConfig, type TlsConfig } from './schema';

export type { Config, GlobalConfig, TargetConfig, TlsConfig } from './schema';

export const DEFAULT_CONFIG_FILE = 'exporter.yml';

/** A configuration that cannot be used. `problems` holds one `<path>: <message>` line per problem. */
export class ConfigError extends Error {
  readonly problems: string[];
  readonly source: string;

  constructor(source: string, problems: string[]) {
    super(problems.map((problem) => `${source}: ${problem}`).join('\n'));
    this.name = 'ConfigError';
    this.source = source;
    this.problems = problems;
  }
}

type PathSegment = string | number;

/** Writes a path like `targets[1].opsmanager.public_key`; the document root is `(root)`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out === '' ? '(root)' : out;
}

// ---------------------------------------------------------------------------------------------
// ${ENV_VAR} expansion

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Expands `${NAME}` in every string value (not in keys); `$${` stands for a literal `${`.
 * Expanded text is not expanded again. Problems name the path and the variable, never a value.
 */
function expandEnv(value: unknown, env: NodeJS.ProcessEnv, path: PathSegment[], problems: Problem[]): unknown {
  if (typeof value === 'string') return expandString(value, env, path, problems);
  if (Array.isArray(value)) return value.map((item, index) => expandEnv(item, env, [...path, index], problems));
  if (isObject(value)) {
    // Object.fromEntries defines own properties, so a key "__proto__" stays a plain (unknown) key.
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, expandEnv(item, env, [...path, key], problems)]));
  }
  return value;
}

function expandString(text: string, env: NodeJS.ProcessEnv, path: PathSegment[], problems: Problem[]): string {
  if (!text.includes('${')) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      out += '${';
      i += 3;
    } else if (text.startsWith('${', i)) {
      const end = text.indexOf('}', i + 2);
      const name = end < 0 ? '' : text.slice(i + 2, end);
      if (end < 0 || !ENV_NAME.test(name)) {
        problems.push({
          path,
          message: 'invalid ${...} reference: expected ${NAME} with a name of letters, digits and _ (write $${ for a literal ${)',
        });
        return '';
      }
      const replacement = env[name];
      if (replacement === undefined) {
        problems.push({ path, message: `environment variable ${name} is not set` });
        return '';
      }
      out += replacement;
      i = end + 1;
    } else {
      out += text[i];
      i += 1;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Turning schema issues into problem lines

interface Problem {
  path: PathSegment[];
  message: string;
  /** Where in the document the problem is, for sorting, if not at `path` (an unknown key). */
  at?: PathSegment[];
}

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let current = root;
  for (const segment of path) {
    if (Array.isArray(current) && typeof segment === 'number') current = current[segment];
    else if (isObject(current) && typeof segment === 'string' && Object.prototype.hasOwnProperty.call(current, segment)) {
      current = current[segment];
    } else return undefined;
  }
  return current;
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
};

function describeValue(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'boolean') return 'a boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  return `a ${typeof value}`;
}

type JsonSchemaNode = Record<string, unknown>;
let jsonSchema: JsonSchemaNode | undefined;

/** The keys the configuration allows at `path` (a mapping), from its JSON Schema. */
export function knownKeysAt(path: readonly PathSegment[]): string[] {
  jsonSchema ??= configJsonSchema();
  const root = jsonSchema;
  /** A node and every schema it is combined with (references, anyOf, allOf, ...). */
  const variants = (node: unknown, depth = 0): JsonSchemaNode[] => {
    if (!isObject(node) || depth > 8) return [];
    const ref = typeof node.$ref === 'string' && node.$ref.startsWith('#/') ? node.$ref.slice(2).split('/') : undefined;
    const referenced = ref ? variants(childAt(root, ref), depth + 1) : [];
    const combined = ['anyOf', 'oneOf', 'allOf'].flatMap((k) => (Array.isArray(node[k]) ? (node[k] as unknown[]) : []));
    return [node, ...referenced, ...combined.flatMap((n) => variants(n, depth + 1))];
  };
  let nodes = variants(root);
  for (const segment of path) {
    nodes = nodes.flatMap((node) =>
      typeof segment === 'number' ? variants(node.items) : isObject(node.properties) ? variants(node.properties[String(segment)]) : [],
    );
  }
  return [...new Set(nodes.flatMap((node) => (isObject(node.properties) ? Object.keys(node.properties) : [])))];
}

/** " (target "name")" for a problem inside a target whose name is known, so the line says which one. */
function targetOf(path: readonly PathSegment[], input: unknown): string {
  if (path[0] !== 'targets' || typeof path[1] !== 'number' || path[2] === 'name') return '';
  const name = valueAt(input, ['targets', path[1], 'name']);
  return typeof name === 'string' && name !== '' ? ` (target ${quoteForMessage(name)})` : '';
}

function issueToProblems(issue: z.core.$ZodIssue, input: unknown): Problem[] {
  const path = issue.path.map((segment) => (typeof segment === 'symbol' ? String(segment) : segment));
  switch (issue.code) {
    case 'invalid_type': {
      const value = valueAt(input, issue.path);
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      if (value === undefined) return [{ path, message: 'required' }];
      return [{ path, message: `expected ${expected}, got ${describeValue(value)}` }];
    }
    case 'unrecognized_keys':
      return issue.keys.map((key) => {
        // The product simulators are a program of their own; an old demo configuration names them here.
        const near = closestMatch(key, knownKeysAt(path));
        const hint =
          path.length === 0 && key === 'simulators'
            ? ' (the product simulators run apart from the exporter: npm run simulators)'
            : near
              ? `; did you mean "${near}"?`
              : '';
        return { path, message: `unknown key ${quoteForMessage(key)}${hint}`, at: [...path, key] };
      });
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'string') return [{ path, message: min <= 1 ? 'must not be empty' : `must be at least ${min} characters` }];
      if (issue.origin === 'array') return [{ path, message: min <= 1 ? 'must not be an empty list' : `must have at least ${min} items` }];
      return [{ path, message: `must be ${issue.inclusive ? '>=' : '>'} ${min}` }];
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'string') return [{ path, message: `must be at most ${max} characters` }];
      if (issue.origin === 'array') return [{ path, message: `must have at most ${max} items` }];
      return [{ path, message: `must be ${issue.inclusive ? '<=' : '<'} ${max}` }];
    }
    default:
      // custom, invalid_value, invalid_format, ...: messages set by the schema, which never echo secrets.
      return [{ path, message: issue.message }];
  }
}

// ---------------------------------------------------------------------------------------------
// Files named in the config (secrets, CA)

/** What a failed file read means, in the words every configuration error uses. */
export const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent is not a directory',
};

interface FileRead {
  /** Absolute path. */
  file: string;
  content: string;
}

/**
 * Reads every secret file and CA file the (possibly invalid) document names, so that a missing file
 * is reported together with all other problems. Keyed by the formatted path of the *_file field.
 */
function readReferencedFiles(doc: unknown, baseDir: string, skip: ReadonlySet<string>, problems: Problem[]) {
  const files = new Map<string, FileRead>();
  const read = (path: PathSegment[], written: unknown, kind: 'secret' | 'ca') => {
    if (typeof written !== 'string' || written === '' || skip.has(formatPath(path))) return;
    const file = nodePath.resolve(baseDir, written);
    let content: string;
    try {
      content = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      problems.push({ path, message: `cannot read ${JSON.stringify(file)}: ${FILE_ERRORS[code] ?? (code || 'read error')}` });
      return;
    }
    if (kind === 'secret') {
      content = content.replace(/[\r\n]+$/, '');
      if (content === '') {
        problems.push({ path, message: `${JSON.stringify(file)} is empty` });
        return;
      }
    } else if (!content.includes('-----BEGIN ')) {
      problems.push({ path, message: `${JSON.stringify(file)} contains no PEM certificate` });
      return;
    }
    files.set(formatPath(path), { file, content });
  };

  const targets = isObject(doc) ? doc.targets : undefined;
  if (!Array.isArray(targets)) return files;
  targets.forEach((target: unknown, index) => {
    if (!isObject(target)) return;
    if (isObject(target.tls)) read(['targets', index, 'tls', 'ca_file'], target.tls.ca_file, 'ca');
    for (const provider of PROVIDER_NAMES) {
      for (const secretPath of SECRET_PATHS[provider]) {
        const parent = childAt(target[provider], secretPath.slice(0, -1));
        const fileKey = `${secretPath[secretPath.length - 1]}_file`;
        if (parent) read(['targets', index, provider, ...secretPath.slice(0, -1), fileKey], parent[fileKey], 'secret');
      }
    }
  });
  return files;
}

/** The object at `path` below `value`, if every step is an object. */
export function childAt(value: unknown, path: readonly string[]): Record<string, unknown> | undefined {
  let current = value;
  for (const key of path) current = isObject(current) ? current[key] : undefined;
  return isObject(current) ? current : undefined;
}

// ---------------------------------------------------------------------------------------------
// Resolution

function resolveTarget(target: ParsedConfig['targets'][number], index: number, global: Config['global'], files: Map<string, FileRead>): TargetConfig {
  const { tls, timeout, lookback, max_jobs, max_resources, min_interval, max_concurrency, ...rest } = target;
  // Blocks in `rest` still hold *_file references; they are replaced below.
  const resolved = {
    ...rest,
    timeout: timeout ?? global.timeout,
    lookback: lookback ?? global.lookback,
    max_jobs: max_jobs ?? global.max_jobs,
    max_resources: max_resources ?? global.max_resources,
    min_interval: min_interval ?? global.min_interval,
    max_concurrency: max_concurrency ?? global.max_concurrency,
  } as TargetConfig;
  if (tls !== undefined) {
    const resolvedTls: TlsConfig = { insecure_skip_verify: tls.insecure_skip_verify };
    if (tls.ca_file !== undefined) {
      const ca = files.get(formatPath(['targets', index, 'tls', 'ca_file']));
      if (ca === undefined) throw new Error('internal: CA file not read');
      resolvedTls.ca_file = ca.file;
      resolvedTls.ca = ca.content;
    }
    resolved.tls = resolvedTls;
  }
  for (const provider of PROVIDER_NAMES) {
    const block = target[provider];
    if (block === undefined) continue;
    const out = structuredClone(block) as Record<string, unknown>;
    for (const secretPath of SECRET_PATHS[provider]) {
      const parent = childAt(out, secretPath.slice(0, -1));
      const secret = secretPath[secretPath.length - 1];
      const fileKey = `${secret}_file`;
      if (!parent || parent[fileKey] === undefined) continue;
      const read = files.get(formatPath(['targets', index, provider, ...secretPath.slice(0, -1), fileKey]));
      if (read === undefined) throw new Error('internal: secret file not read');
      parent[fileKey] = read.file;
      parent[secret] = read.content;
    }
    (resolved as unknown as Record<string, unknown>)[provider] = out;
  }
  return resolved;
}

// ---------------------------------------------------------------------------------------------
// Entry points

export interface ParseOptions {
  /** Variables for ${NAME} expansion; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Directory that relative *_file paths are relative to (the config file's directory). */
  baseDir: string;
  /** Name used in error messages; default "config". */
  source?: string;
}

const MAX_YAML_ERRORS = 5;

/** Orders problems as they appear in the file (a missing key sorts at its parent), stable otherwise. */
function sortByPosition(problems: Problem[], doc: Document): void {
  const offsetOf = (path: PathSegment[]): number => {
    for (let n = path.length; n > 0; n--) {
      const node = doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return node.range[0];
    }
    return isNode(doc.contents) && doc.contents.range ? doc.contents.range[0] : 0;
  };
  const keyed = problems.map((problem, index) => ({ problem, index, offset: offsetOf(problem.at ?? problem.path) }));
  keyed.sort((a, b) => a.offset - b.offset || a.index - b.index);
  keyed.forEach((entry, i) => (problems[i] = entry.problem));
}

/** Parses and validates the text of exporter.yml. Throws ConfigError listing every problem. */
export function parseConfig(text: string, options: ParseOptions): Config {
  const source = options.source ?? 'config';
  const env = options.env ?? process.env;

  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // Later syntax errors are mostly echoes of the first; a few are enough.
    const shown = doc.errors.slice(0, MAX_YAML_ERRORS);
    throw new ConfigError(
      source,
      shown.map((err) => {
        const at = err.linePos?.[0];
        // Only the first line of the message: later lines quote the file, which may hold secrets.
        // For the same reason, drop the bits of the first line that quote the document's text.
        const message = err.message
          .split('\n')[0]
          .replace(/ at line \d+, column \d+:?$/, '')
          .replace(/:\s*".*$/, '')
          .replace(/^(Invalid escape sequence|Plain value cannot start with|Unresolved plain scalar|Block scalar header includes extra characters)\b.*$/, '$1');
        return `${at ? `line ${at.line}, column ${at.col}: ` : ''}YAML syntax error: ${message}`;
      }),
    );
  }
  if (doc.contents === null) throw new ConfigError(source, ['the configuration is empty']);

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // e.g. "Unresolved alias (...): name"; the part after ": " quotes the document.
    throw new ConfigError(source, [`YAML error: ${(err as Error).message.split('\n')[0].replace(/\): .*$/, ')')}`]);
  }
  if (raw === null || raw === undefined) throw new ConfigError(source, ['the configuration is empty']);

  const problems: Problem[] = [];
  const expanded = expandEnv(raw, env, [], problems);
  const envPaths = new Set(problems.map((p) => formatPath(p.path)));

  const result = configSchema.safeParse(expanded);
  if (!result.success) {
    for (const issue of result.error.issues) {
      for (const problem of issueToProblems(issue, expanded)) {
        // A value whose expansion failed was replaced by "": its other complaints would only confuse.
        if (!envPaths.has(formatPath(problem.path))) problems.push(problem);
      }
    }
  }
  const files = readReferencedFiles(expanded, options.baseDir, envPaths, problems);

  if (problems.length > 0 || !result.success) {
    sortByPosition(problems, doc);
    const lines = [...new Set(problems.map((p) => `${formatPath(p.path)}: ${p.message}${targetOf(p.path, expanded)}`))];
    throw new ConfigError(source, lines);
  }

  const parsed = result.data;
  return {
    global: parsed.global,
    targets: parsed.targets.map((target, index) => resolveTarget(target, index, parsed.global, files)),
  };
}

/** Reads and parses a config file; relative *_file paths are resolved against its directory. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    throw new ConfigError(path, [`cannot read the configuration file: ${FILE_ERRORS[code] ?? (code || 'read error')}`]);
  }
  return parseConfig(text, { env, baseDir: nodePath.dirname(nodePath.resolve(path)), source: path });
}
