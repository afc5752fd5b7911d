import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closestMatch } from '../../src/text';
import { ConfigError, loadConfigFile, parseConfig, type Config, type TargetConfig } from '../../src/config/load';
import { redactConfig, secretMasker } from '../../src/config/redact';
import { GLOBAL_DEFAULTS, SECRET_PATHS } from '../../src/config/schema';
import { configJsonSchema, configJsonSchemaText, JSON_SCHEMA_FILE } from '../../src/config/write-json-schema';
import { parseDuration } from '../../src/config/duration';
import { PROVIDER_NAMES } from '../../src/providers';

const ROOT = path.resolve(__dirname, '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'config');

const SECRET = 'S3cr3t-Pr1vate-Key-0xDEADBEEF';
const FILE_SECRET = 'F1le-S3cret-Value-0xC0FFEE';
const ENV: NodeJS.ProcessEnv = { OPS_PRIVATE_KEY: SECRET, OPS_PUBLIC_KEY: 'pub-from-env', OPS_HOST: 'ops.example.com' };
const PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backup-exporter-config-'));
  fs.writeFileSync(path.join(dir, 'ops.key'), `${FILE_SECRET}\n`);
  fs.writeFileSync(path.join(dir, 'crlf.key'), `${FILE_SECRET}\r\n\r\n`);
  fs.writeFileSync(path.join(dir, 'empty.key'), '\n');
  fs.writeFileSync(path.join(dir, 'ca.pem'), PEM);
  fs.writeFileSync(path.join(dir, 'not-a-cert.pem'), 'hello\n');
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'nested.key'), `  spaced ${FILE_SECRET}  \n`);
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function parse(yaml: string, env: NodeJS.ProcessEnv = ENV): Config {
  return parseConfig(yaml, { env, baseDir: dir, source: 'test.yml' });
}

function configError(yaml: string, env: NodeJS.ProcessEnv = ENV): ConfigError {
  try {
    parse(yaml, env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const problemsOf = (yaml: string, env: NodeJS.ProcessEnv = ENV) => configError(yaml, env).problems;

/** A valid opsmanager target as YAML list item lines; `extra` lines (a `url:` line replaces the default url). */
function target(name: string, extra = '', block = 'public_key: pub\n      private_key: ${OPS_PRIVATE_KEY}'): string {
  const extraLines = extra ? extra.split('\n') : [];
  const url = extraLines.some((line) => line.startsWith('url:')) ? [] : ['    url: https://ops.example.com:8443'];
  return [
    `  - name: ${name}`,
    '    provider: opsmanager',
    ...url,
    ...extraLines.map((line) => `    ${line}`),
    ...(block === '' ? [] : ['    opsmanager:', `      ${block}`]),
  ].join('\n');
}

const targets = (...items: string[]) => `targets:\n${items.join('\n')}\n`;

// -------------------------------------------------------------------------------------------------

describe('bad configs: every problem, each as "<path>: <message>"', () => {
  const cases: Array<[string, string, string[]]> = [
    [
      'duplicate target name',
      targets(target('a'), target('b'), target('a')),
      ['targets[2].name: duplicate target name "a" (first at targets[0])'],
    ],
    ['unknown key at the top level', `foo: 1\n${targets(target('a'))}`, ['(root): unknown key "foo"']],
    ['a "__proto__" key is just an unknown key', '__proto__: { global: 1 }\n', ['(root): unknown key "__proto__"']],
    ['unknown key in global', `global: { timeout: 10s, timout: 5s }\n`, ['global: unknown key "timout"; did you mean "timeout"?']],
    ['unknown key in a target', targets(target('a', 'labels: {}')), ['targets[0]: unknown key "labels" (target "a")']],
    [
      'unknown key in a provider block',
      targets(target('a', '', 'public_key: pub\n      private_key: x\n      group: g')),
      ['targets[0].opsmanager: unknown key "group" (target "a")'],
    ],
    ['unknown key in tls', targets(target('a', 'tls: { verify: true }')), ['targets[0].tls: unknown key "verify" (target "a")']],
    [
      'a simulators block (the simulators are a program of their own)',
      'simulators:\n  opsmanager: { listen: "127.0.0.1:19101" }\n',
      ['(root): unknown key "simulators" (the product simulators run apart from the exporter: npm run simulators)'],
    ],
    [
      'missing public_key',
      targets(target('a'), target('b', '', 'private_key: x')),
      ['targets[1].opsmanager.public_key: required (target "b")'],
    ],
    [
      'missing name, provider and url',
      'targets:\n  - opsmanager: { public_key: p, private_key: x }\n',
      ['targets[0].name: required', 'targets[0].provider: required', 'targets[0].url: required'],
    ],
    [
      'both private_key and private_key_file',
      targets(target('a', '', 'public_key: pub\n      private_key: x\n      private_key_file: ops.key')),
      ['targets[0].opsmanager: set either private_key or private_key_file, not both (target "a")'],
    ],
    [
      'neither private_key nor private_key_file',
      targets(target('a', '', 'public_key: pub')),
      ['targets[0].opsmanager.private_key: required (or private_key_file) (target "a")'],
    ],
    [
      'missing secret file',
      targets(target('a', '', 'public_key: pub\n      private_key_file: missing.key')),
      [`targets[0].opsmanager.private_key_file: cannot read {DIR/missing.key}: no such file (target "a")`],
    ],
    [
      'secret file that is a directory',
      targets(target('a', '', 'public_key: pub\n      private_key_file: sub')),
      [`targets[0].opsmanager.private_key_file: cannot read {DIR/sub}: is a directory (target "a")`],
    ],
    [
      'empty secret file',
      targets(target('a', '', 'public_key: pub\n      private_key_file: empty.key')),
      [`targets[0].opsmanager.private_key_file: {DIR/empty.key} is empty (target "a")`],
    ],
    [
      'empty secret',
      targets(target('a', '', 'public_key: pub\n      private_key: ""')),
      ['targets[0].opsmanager.private_key: must not be empty (target "a")'],
    ],
    [
      'unset environment variable',
      targets(target('a', '', 'public_key: pub\n      private_key: ${NOT_SET_ANYWHERE}')),
      ['targets[0].opsmanager.private_key: environment variable NOT_SET_ANYWHERE is not set (target "a")'],
    ],
    [
      'unset environment variables in several places',
      `global: { timeout: "\${T}" }\n${targets(target('a', 'url: https://${NOPE}'))}`,
      ['global.timeout: environment variable T is not set', 'targets[0].url: environment variable NOPE is not set (target "a")'],
    ],
    [
      'bad ${ reference',
      targets(target('a', '', 'public_key: "${1BAD}"\n      private_key: x')),
      [
        'targets[0].opsmanager.public_key: invalid ${...} reference: expected ${NAME} with a name of letters, digits and _ (write $${ for a literal ${) (target "a")',
      ],
    ],
    [
      'unterminated ${',
      targets(target('a', '', 'public_key: "abc${OPS"\n      private_key: x')),
      [
        'targets[0].opsmanager.public_key: invalid ${...} reference: expected ${NAME} with a name of letters, digits and _ (write $${ for a literal ${) (target "a")',
      ],
    ],
    [
      'duration "5 minutes"',
      'global: { timeout: 5 minutes }\n',
      [
        'global.timeout: invalid duration "5 minutes": expected one or more <integer><unit> with unit ms, s, m, h, d, w or y, largest unit first (e.g. "1h30m", "500ms", "7d")',
      ],
    ],
    ['duration "10"', 'global: { lookback: "10" }\n', ['global.lookback: invalid duration "10": missing unit (e.g. "10s")']],
    ['duration 10 (a YAML number)', 'global: { lookback: 10 }\n', ['global.lookback: expected a string, got an integer']],
    ['duration "-1s"', 'global: { min_interval: -1s }\n', ['global.min_interval: invalid duration "-1s": must not be negative']],
    [
      'duration with units out of order, in a target',
      targets(target('a', 'lookback: 1m1h')),
      [
        'targets[0].lookback: invalid duration "1m1h": units must go from largest to smallest; expected one or more <integer><unit> with unit ms, s, m, h, d, w or y, largest unit first (e.g. "1h30m", "500ms", "7d") (target "a")',
      ],
    ],
    ['timeout 0s', targets(target('a', 'timeout: 0s')), ['targets[0].timeout: must be greater than 0 (got "0s") (target "a")']],
    ['lookback 0', 'global: { lookback: "0" }\n', ['global.lookback: must be greater than 0 (got "0")']],
    [
      'unknown provider',
      targets(target('a').replace('provider: opsmanager', 'provider: netbackup')),
      [`targets[0].provider: unknown provider "netbackup" (expected one of: ${PROVIDER_NAMES.join(', ')}) (target "a")`],
    ],
    [
      'provider not a string',
      targets(target('a').replace('provider: opsmanager', 'provider: 7')),
      [`targets[0].provider: expected a provider name (one of: ${PROVIDER_NAMES.join(', ')}) (target "a")`],
    ],
    [
      'bluexp: incomplete block',
      targets(target('a', 'bluexp: { client_id: x }', '').replace('provider: opsmanager', 'provider: bluexp')),
      [
        'targets[0].bluexp.account_id: required (target "a")',
        'targets[0].bluexp.agent_id: required (target "a")',
        'targets[0].bluexp: one of refresh_token (or refresh_token_file) or client_secret (or client_secret_file) is required (target "a")',
      ],
    ],
    [
      'bluexp: both grants, and a client secret without client id',
      targets(
        target('a', 'bluexp: { account_id: account-1, agent_id: c1clients, refresh_token: r, client_secret: s }', '').replace(
          'provider: opsmanager',
          'provider: bluexp',
        ),
      ),
      [
        'targets[0].bluexp: set either refresh_token (or refresh_token_file) or client_secret (or client_secret_file), not both (target "a")',
        'targets[0].bluexp.client_id: required with client_secret (target "a")',
      ],
    ],
    [
      'ahsay: bad time zone and days',
      targets(
        target('a', 'ahsay: { username: api, password: p, timezone: Mars/Olympus, days: 0 }', '').replace('provider: opsmanager', 'provider: ahsay'),
      ),
      ['targets[0].ahsay.timezone: not an IANA time zone (e.g. "Asia/Hong_Kong", "UTC") (target "a")', 'targets[0].ahsay.days: must be >= 1 (target "a")'],
    ],
    [
      'cbr: neither iam nor a key pair',
      targets(target('a', 'cbr: { project_id: p1 }', '').replace('provider: opsmanager', 'provider: cbr')),
      ['targets[0].cbr: one of iam or access_key with secret_key is required (target "a")'],
    ],
    [
      'cbr: both, an access key without its secret, and an iam block without its password',
      targets(
        target('a', 'cbr: { project_id: p1, access_key: AK, iam: { url: "https://iam.example.com", domain: d, user: u, project: p } }', '').replace(
          'provider: opsmanager',
          'provider: cbr',
        ),
      ),
      [
        'targets[0].cbr: set either iam or access_key with secret_key, not both (target "a")',
        'targets[0].cbr.secret_key: required with access_key (or secret_key_file) (target "a")',
        'targets[0].cbr.iam.password: required (or password_file) (target "a")',
      ],
    ],
    [
      'block of another provider',
      targets(target('a').replace('provider: opsmanager', 'provider: cbr')),
      ['targets[0].cbr: required for provider "cbr" (target "a")', 'targets[0].opsmanager: not allowed for provider "cbr" (only a "cbr" block is) (target "a")'],
    ],
    ['missing provider block', targets(target('a', '', '')), ['targets[0].opsmanager: required for provider "opsmanager" (target "a")']],
    [
      'provider block not a mapping',
      targets(target('a', 'opsmanager: [x]', '')),
      ['targets[0].opsmanager: expected a mapping, got a list (target "a")'],
    ],
    ['url with another scheme', targets(target('a', 'url: ftp://ops.example.com')), ['targets[0].url: must be an http:// or https:// URL (target "a")']],
    [
      'url with user info',
      targets(target('a', 'url: https://admin:hunter2@ops.example.com')),
      ['targets[0].url: must not contain a user name or password; put credentials in the provider block (target "a")'],
    ],
    [
      'url with a query',
      targets(target('a', 'url: https://ops.example.com/?x=1')),
      ['targets[0].url: must not contain a query (?) or fragment (#) (target "a")'],
    ],
    [
      'url with a fragment',
      targets(target('a', 'url: "https://ops.example.com/#top"')),
      ['targets[0].url: must not contain a query (?) or fragment (#) (target "a")'],
    ],
    ['not a url', targets(target('a', 'url: ops.example.com')), ['targets[0].url: not a valid URL (expected e.g. https://host:8443) (target "a")']],
    ['max_concurrency 0', 'global: { max_concurrency: 0 }\n', ['global.max_concurrency: must be >= 1']],
    ['max_concurrency 257', targets(target('a', 'max_concurrency: 257')), ['targets[0].max_concurrency: must be <= 256 (target "a")']],
    ['max_jobs -1', 'global: { max_jobs: -1 }\n', ['global.max_jobs: must be >= 0']],
    ['max_jobs 100001', 'global: { max_jobs: 100001 }\n', ['global.max_jobs: must be <= 100000']],
    ['max_jobs 1.5', 'global: { max_jobs: 1.5 }\n', ['global.max_jobs: must be an integer']],
    ['max_jobs "10"', 'global: { max_jobs: "10" }\n', ['global.max_jobs: expected a number, got a string']],
    ['targets not a list', 'targets: { name: a }\n', ['targets: expected a list, got a mapping']],
    ['targets empty value', 'targets:\n', ['targets: expected a list, got an empty value']],
    ['global not a mapping', 'global: 10s\n', ['global: expected a mapping, got a string']],
    ['target not a mapping', 'targets: [ops]\n', ['targets[0]: expected a mapping, got a string']],
    ['whole file not a mapping', '- a\n- b\n', ['(root): expected a mapping, got a list']],
    [
      'bad target name',
      targets(target('"ops prod"')),
      ['targets[0].name: invalid target name "ops prod": use 1 to 64 characters of a-z, A-Z, 0-9, "_", ".", ":" and "-"'],
    ],
    [
      'target name too long',
      targets(target('x'.repeat(65))),
      [`targets[0].name: invalid target name "${'x'.repeat(63)}…": use 1 to 64 characters of a-z, A-Z, 0-9, "_", ".", ":" and "-"`],
    ],
    ['target name a number', targets(target('42')), ['targets[0].name: expected a string, got an integer']],
    [
      'empty projects list',
      targets(target('a', '', 'public_key: pub\n      private_key: x\n      projects: []')),
      ['targets[0].opsmanager.projects: must not be an empty list (target "a")'],
    ],
    [
      'projects not a list',
      targets(target('a', '', 'public_key: pub\n      private_key: x\n      projects: abc')),
      ['targets[0].opsmanager.projects: expected a list, got a string (target "a")'],
    ],
    [
      'missing CA file',
      targets(target('a', 'tls: { ca_file: /nonexistent/ca.pem }')),
      ['targets[0].tls.ca_file: cannot read "/nonexistent/ca.pem": no such file (target "a")'],
    ],
    [
      'CA file without a certificate',
      targets(target('a', 'tls: { ca_file: not-a-cert.pem }')),
      [`targets[0].tls.ca_file: {DIR/not-a-cert.pem} contains no PEM certificate (target "a")`],
    ],
    [
      'insecure_skip_verify not a boolean',
      targets(target('a', 'tls: { insecure_skip_verify: "yes" }')),
      ['targets[0].tls.insecure_skip_verify: expected true or false, got a string (target "a")'],
    ],
    ['empty file', '', ['the configuration is empty']],
    ['only comments', '# nothing here\n\n', ['the configuration is empty']],
    [
      'many problems at once, in file order',
      [
        'foo: 1',
        'global:',
        '  timeout: 5 minutes',
        '  max_concurrency: 0',
        'targets:',
        target('a', 'url: ftp://x'),
        target('a', '', 'private_key: x\n      private_key_file: missing.key'),
        target('b', 'timeout: 10', ''),
        '',
      ].join('\n'),
      [
        '(root): unknown key "foo"',
        'global.timeout: invalid duration "5 minutes": expected one or more <integer><unit> with unit ms, s, m, h, d, w or y, largest unit first (e.g. "1h30m", "500ms", "7d")',
        'global.max_concurrency: must be >= 1',
        'targets[0].url: must be an http:// or https:// URL (target "a")',
        'targets[1].name: duplicate target name "a" (first at targets[0])',
        'targets[1].opsmanager.public_key: required (target "a")',
        'targets[1].opsmanager: set either private_key or private_key_file, not both (target "a")',
        `targets[1].opsmanager.private_key_file: cannot read {DIR/missing.key}: no such file (target "a")`,
        'targets[2].opsmanager: required for provider "opsmanager" (target "b")', // a missing key sorts at its parent
        'targets[2].timeout: expected a string, got an integer (target "b")',
      ],
    ],
  ];

  test.each(cases)('%s', (_name, yaml, expected) => {
    const err = configError(yaml);
    // {DIR/name} stands for the quoted absolute path of a file in the temp dir
    const inDir = (line: string) => line.replace(/\{DIR\/([^}]*)\}/g, (_m, name: string) => JSON.stringify(path.join(dir, name)));
    expect(err.problems).toEqual(expected.map(inDir));
    expect(err.message).toBe(err.problems.map((p) => `test.yml: ${p}`).join('\n'));
    expect(err.source).toBe('test.yml');
  });
});

describe('YAML syntax errors', () => {
  test.each([
    ['unclosed flow sequence', 'targets: [\n', /^line 2, column 1: YAML syntax error: /],
    ['duplicate key', 'global: {}\nglobal: {}\n', /^line 2, column 1: YAML syntax error: Map keys must be unique$/],
    ['bad indentation', 'global:\n  timeout: 10s\n lookback: 7d\n', /^line \d+, column \d+: YAML syntax error: /],
    ['tab indentation', 'global:\n\ttimeout: 10s\n', /^line 2, column 1: YAML syntax error: /],
  ])('%s', (_name, yaml, pattern) => {
    const problems = problemsOf(yaml);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.length).toBeLessThanOrEqual(5);
    expect(problems[0]).toMatch(pattern);
  });
});

// -------------------------------------------------------------------------------------------------

describe('good configs', () => {
  const DEFAULT_GLOBAL = {
    timeout: 10_000,
    lookback: 7 * 24 * 3600 * 1000,
    max_jobs: 100,
    max_resources: 10_000,
    min_interval: 0,
    max_concurrency: 8,
  };

  test('the defaults are what the docs say', () => {
    expect(DEFAULT_GLOBAL).toEqual({
      timeout: parseDuration(GLOBAL_DEFAULTS.timeout),
      lookback: parseDuration(GLOBAL_DEFAULTS.lookback),
      max_jobs: GLOBAL_DEFAULTS.max_jobs,
      max_resources: GLOBAL_DEFAULTS.max_resources,
      min_interval: parseDuration(GLOBAL_DEFAULTS.min_interval),
      max_concurrency: GLOBAL_DEFAULTS.max_concurrency,
    });
  });

  test.each([
    ['an empty mapping', '{}\n'],
    ['an empty target list', 'targets: []\n'],
    ['only global', 'global: {}\n'],
  ])('%s is a valid config without targets', (_name, yaml) => {
    expect(parse(yaml)).toEqual({ global: DEFAULT_GLOBAL, targets: [] });
  });

  test('defaults are applied to global and targets', () => {
    const config = parse(targets(target('ops')));
    expect(config).toEqual({
      global: DEFAULT_GLOBAL,
      targets: [
        {
          name: 'ops',
          provider: 'opsmanager',
          url: 'https://ops.example.com:8443',
          ...DEFAULT_GLOBAL,
          opsmanager: { public_key: 'pub', private_key: SECRET },
        },
      ],
    });
  });

  test('global values and per-target overrides are merged', () => {
    const config = parse(
      [
        'global: { timeout: 30s, lookback: 2w, max_jobs: 50, max_resources: 20, min_interval: 1m, max_concurrency: 4 }',
        'targets:',
        target('a'),
        target('b', 'timeout: 1m30s\nlookback: 24h\nmax_jobs: 0\nmax_resources: 0\nmin_interval: 0s\nmax_concurrency: 256'),
        target('c', 'min_interval: 500ms'),
        '',
      ].join('\n'),
    );
    const pick = (t: TargetConfig) => [t.timeout, t.lookback, t.max_jobs, t.max_resources, t.min_interval, t.max_concurrency];
    expect(config.global).toEqual({ timeout: 30_000, lookback: 14 * 86_400_000, max_jobs: 50, max_resources: 20, min_interval: 60_000, max_concurrency: 4 });
    expect(config.targets.map(pick)).toEqual([
      [30_000, 14 * 86_400_000, 50, 20, 60_000, 4],
      [90_000, 86_400_000, 0, 0, 0, 256],
      [30_000, 14 * 86_400_000, 50, 20, 500, 4],
    ]);
  });

  test('${ENV} is expanded in every string value; $${ is a literal ${', () => {
    const config = parse(
      [
        'global: { timeout: "${TIMEOUT}" }',
        'targets:',
        '  - name: ${NAME}-1',
        '    provider: ${PROVIDER}',
        '    url: https://${OPS_HOST}:8443/',
        '    opsmanager:',
        '      public_key: ${OPS_PUBLIC_KEY}',
        '      private_key: "pre$${NOT_EXPANDED}${OPS_PRIVATE_KEY}$$x$"',
        '      projects: ["${PROJECT}", literal]',
        '',
      ].join('\n'),
      { ...ENV, TIMEOUT: '45s', NAME: 'ops', PROVIDER: 'opsmanager', PROJECT: 'p1', NOT_EXPANDED: 'oops' },
    );
    expect(config.global.timeout).toBe(45_000);
    expect(config.targets[0]).toMatchObject({
      name: 'ops-1',
      provider: 'opsmanager',
      url: 'https://ops.example.com:8443',
      opsmanager: { public_key: 'pub-from-env', private_key: `pre\${NOT_EXPANDED}${SECRET}$$x$`, projects: ['p1', 'literal'] },
    });
  });

  test('expanded values are not expanded again; keys are not expanded', () => {
    const config = parse(targets(target('a', '', 'public_key: ${INDIRECT}\n      private_key: x')), { INDIRECT: '${OPS_PRIVATE_KEY}' });
    expect(config.targets[0].opsmanager?.public_key).toBe('${OPS_PRIVATE_KEY}');
    expect(problemsOf('${KEY}: 1\n', { KEY: 'global' })).toEqual(['(root): unknown key "${KEY}"']);
  });

  test('an environment variable set to "" expands to ""', () => {
    expect(problemsOf(targets(target('a')), { OPS_PRIVATE_KEY: '' })).toEqual(['targets[0].opsmanager.private_key: must not be empty (target "a")']);
  });

  test('process.env is the default environment', () => {
    const name = 'BACKUP_EXPORTER_CONFIG_TEST_KEY';
    process.env[name] = 'from-process-env';
    try {
      const config = parseConfig(targets(target('a', '', `public_key: p\n      private_key: \${${name}}`)), { baseDir: dir });
      expect(config.targets[0].opsmanager?.private_key).toBe('from-process-env');
    } finally {
      delete process.env[name];
    }
  });

  test.each([
    ['relative path', 'ops.key', path.join('ops.key'), FILE_SECRET],
    ['relative path with CRLF and blank lines', 'crlf.key', 'crlf.key', FILE_SECRET],
    ['relative path into a sub directory; only trailing newlines are trimmed', 'sub/nested.key', path.join('sub', 'nested.key'), `  spaced ${FILE_SECRET}  `],
    ['absolute path', 'ABS', 'ops.key', FILE_SECRET],
  ])('secret file: %s', (_name, written, relative, expected) => {
    const file = written === 'ABS' ? path.join(dir, 'ops.key') : written;
    const config = parse(targets(target('a', '', `public_key: pub\n      private_key_file: ${file}`)));
    expect(config.targets[0].opsmanager).toEqual({
      public_key: 'pub',
      private_key: expected,
      private_key_file: path.join(dir, relative),
    });
  });

  test('the CA file is read into tls.ca', () => {
    const config = parse(targets(target('a', 'tls:\n  ca_file: ca.pem'), target('b', 'tls: { insecure_skip_verify: true }')));
    expect(config.targets[0].tls).toEqual({ ca_file: path.join(dir, 'ca.pem'), ca: PEM, insecure_skip_verify: false });
    expect(config.targets[1].tls).toEqual({ insecure_skip_verify: true });
  });

  test.each([
    ['https://ops.example.com:8443/', 'https://ops.example.com:8443'],
    ['https://ops.example.com:8443', 'https://ops.example.com:8443'],
    ['http://127.0.0.1:19101//', 'http://127.0.0.1:19101'],
    ['https://proxy.example.com/ops-manager/', 'https://proxy.example.com/ops-manager'],
    ['HTTPS://Ops.Example.COM', 'https://ops.example.com'],
    ['http://[::1]:8080/', 'http://[::1]:8080'],
  ])('url %s -> %s', (url, expected) => {
    expect(parse(targets(target('a', `url: ${url}`))).targets[0].url).toBe(expected);
  });

  test('fixture full.yml (every key) loads, relative files next to the config file', () => {
    const cwd = process.cwd();
    process.chdir(os.tmpdir()); // relative paths must not depend on the working directory
    try {
      const config = loadConfigFile(path.relative(os.tmpdir(), path.join(FIXTURES, 'full.yml')), ENV);
      expect(config.global).toEqual(DEFAULT_GLOBAL);
      expect(config.targets).toEqual([
        {
          name: 'ops-prod',
          provider: 'opsmanager',
          url: 'https://opsmanager.example.com:8443',
          tls: {
            ca_file: path.join(FIXTURES, 'ca.pem'),
            ca: fs.readFileSync(path.join(FIXTURES, 'ca.pem'), 'utf8'),
            insecure_skip_verify: false,
          },
          timeout: 20_000,
          lookback: 30 * 86_400_000,
          max_jobs: 500,
          max_resources: 2000,
          min_interval: 60_000,
          max_concurrency: 4,
          opsmanager: { public_key: 'abcd', private_key: SECRET, projects: ['5e2211c17a3e5a48f5497de3'] },
        },
        {
          name: 'ops-demo',
          provider: 'opsmanager',
          url: 'http://127.0.0.1:19101',
          ...DEFAULT_GLOBAL,
          opsmanager: { public_key: 'demo-public-key', private_key: 'demo-private-key', private_key_file: path.join(FIXTURES, 'ops-demo.key') },
        },
      ]);
    } finally {
      process.chdir(cwd);
    }
  });

  test('every complete YAML example in docs/configuration.md is valid (files named in them aside)', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs', 'configuration.md'), 'utf8');
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)]
      .map((m) => m[1])
      .filter((text) => /^[a-z]/m.test(text) && !/^\s+\S/.test(text.replace(/^#.*\n/gm, ''))); // skip fragments
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    for (const text of blocks) {
      let problems: string[] = [];
      try {
        parse(text);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        problems = err.problems.filter((p) => !/_file: cannot read /.test(p));
      }
      expect([text, problems]).toEqual([text, []]);
    }
  });

  test('fixture minimal.yml loads', () => {
    const config = loadConfigFile(path.join(FIXTURES, 'minimal.yml'), ENV);
    expect(config.targets.map((t) => t.name)).toEqual(['ops']);
  });

  test('loadConfigFile: a missing file is a ConfigError naming it', () => {
    const file = path.join(dir, 'nope.yml');
    expect(() => loadConfigFile(file, ENV)).toThrow(ConfigError);
    expect(() => loadConfigFile(file, ENV)).toThrow(`${file}: cannot read the configuration file: no such file`);
  });

  test('loadConfigFile: problems are prefixed with the file name', () => {
    const file = path.join(dir, 'bad.yml');
    fs.writeFileSync(file, 'global: { max_jobs: -1 }\n');
    expect(() => loadConfigFile(file, ENV)).toThrow(`${file}: global.max_jobs: must be >= 0`);
  });
});

// -------------------------------------------------------------------------------------------------

describe('secrets', () => {
  test('the secret field list comes from the schema', () => {
    expect(Object.keys(SECRET_PATHS)).toEqual(PROVIDER_NAMES);
    expect(SECRET_PATHS).toMatchObject({
      opsmanager: [['private_key']],
      bluexp: [['refresh_token'], ['client_secret']],
      ahsay: [['password']],
      cbr: [['secret_key'], ['iam', 'password']],
    });
  });

  test('redactConfig replaces every secret value and drops CA contents', () => {
    const config = parse(
      targets(
        target('inline', 'tls: { ca_file: ca.pem }'),
        target('from-file', '', 'public_key: pub\n      private_key_file: ops.key'),
      ),
    );
    const before = JSON.stringify(config);
    const redacted = redactConfig(config) as Config;
    const text = JSON.stringify(redacted);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(FILE_SECRET);
    expect(text).not.toContain('MIIBfake');
    expect(redacted.targets[0].opsmanager).toEqual({ public_key: 'pub', private_key: '<secret>' });
    expect(redacted.targets[0].tls).toEqual({ ca_file: path.join(dir, 'ca.pem'), insecure_skip_verify: false });
    expect(redacted.targets[1].opsmanager).toEqual({
      public_key: 'pub',
      private_key: '<secret>',
      private_key_file: path.join(dir, 'ops.key'),
    });
    expect(redacted.global).toEqual(config.global);
    expect(JSON.stringify(config)).toBe(before); // the original is untouched
  });

  // Configs that hold the secret (inline, through ${ENV}, in a file) and are wrong in other ways.
  const leaky: Array<[string, string]> = [
    ['inline secret, both set', targets(target('a', '', `public_key: pub\n      private_key: ${SECRET}\n      private_key_file: ops.key`))],
    ['inline secret, block problems', targets(target('a', '', `public_key: 5\n      private_key: ${SECRET}\n      extra: 1`))],
    ['secret in an unknown provider', targets(target('a', '', `public_key: pub\n      private_key: ${SECRET}`).replace('provider: opsmanager', 'provider: x'))],
    ['secret where a list is wanted', targets(target('a', '', `public_key: pub\n      private_key: x\n      projects: ${SECRET}`))],
    ['secret as a mapping', targets(target('a', '', `public_key: pub\n      private_key: { ${SECRET}: 1 }`))],
    ['secret in the url', targets(target('a', `url: https://admin:${SECRET}@ops.example.com`))],
    ['secret in a bad url', targets(target('a', `url: "${SECRET} not a url"`))],
    ['secret from the environment, both set', targets(target('a', '', 'public_key: pub\n      private_key: ${OPS_PRIVATE_KEY}\n      private_key_file: ops.key'))],
    ['secret file with other problems', `global: { timeout: 0s }\n${targets(target('a', '', 'public_key: ""\n      private_key_file: ops.key'))}`],
    ['YAML error on the secret line', `targets:\n  - opsmanager: { private_key: ${SECRET}: x }\n`],
    ['YAML error: unterminated quote', `targets:\n  - opsmanager:\n      private_key: "${SECRET}\n`],
    ['YAML error: bad escape', `x: "${SECRET}\\q"\n`],
    ['YAML error: unexpected scalar', `targets: []\n${SECRET}\n`],
    ['YAML error: a secret that looks like an alias', `targets:\n  - opsmanager: { private_key: *${SECRET} }\n`],
    ['bad ${ reference in a secret', targets(target('a', '', `public_key: p\n      private_key: "${SECRET}\${"`))],
  ];
  test.each(leaky)('no problem message contains the secret: %s', (_name, yaml) => {
    const err = configError(yaml);
    expect(err.problems.length).toBeGreaterThan(0);
    expect(err.message).not.toContain(SECRET);
    expect(err.message).not.toContain(FILE_SECRET);
    expect(err.message).not.toContain('S3cr3t');
  });
});

// -------------------------------------------------------------------------------------------------

describe('JSON Schema', () => {
  const file = path.join(ROOT, JSON_SCHEMA_FILE);

  test(`${JSON_SCHEMA_FILE} is in sync with the zod schema (UPDATE_SCHEMA=1 rewrites it)`, () => {
    if (process.env.UPDATE_SCHEMA === '1') fs.writeFileSync(file, configJsonSchemaText());
    expect(fs.readFileSync(file, 'utf8')).toBe(configJsonSchemaText());
  });

  test('describes the YAML as written: durations are strings with a pattern, defaults as written, no unknown keys', () => {
    const schema = configJsonSchema() as any;
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.additionalProperties).toBe(false);
    const global = schema.properties.global;
    expect(global.properties.timeout).toMatchObject({ type: 'string', default: '10s', pattern: expect.any(String) });
    expect(global.properties.lookback.default).toBe('7d');
    const durationPattern = new RegExp(global.properties.timeout.pattern, 'u');
    for (const ok of ['10s', '1h30m', '0', '${TIMEOUT}']) expect([ok, durationPattern.test(ok)]).toEqual([ok, true]);
    for (const bad of ['10', '5 minutes', '-1s', '1m1h', '']) expect([bad, durationPattern.test(bad)]).toEqual([bad, false]);
    expect(global.properties.max_jobs).toMatchObject({ type: 'integer', minimum: 0, maximum: 100000, default: 100 });
    expect(global.properties.max_concurrency).toMatchObject({ type: 'integer', minimum: 1, maximum: 256, default: 8 });
    const item = schema.properties.targets.items;
    expect(item.required).toEqual(['name', 'provider', 'url']);
    expect(item.properties.provider.enum).toEqual(PROVIDER_NAMES);
    expect(item.properties.timeout.type).toBe('string');
    const namePattern = new RegExp(item.properties.name.pattern, 'u');
    expect(['ops-prod', 'a.b:c_d', '${NAME}', 'ops prod', ''].map((n) => namePattern.test(n))).toEqual([true, true, true, false, false]);
    const urlPattern = new RegExp(item.properties.url.pattern, 'u');
    expect(['https://x', 'http://x:1/p', '${URL}', 'ftp://x', 'x'].map((u) => urlPattern.test(u))).toEqual([true, true, true, false, false]);
    expect(item.additionalProperties).toBe(false);
    const block = item.properties.opsmanager;
    expect(block.additionalProperties).toBe(false);
    expect(block.allOf).toEqual([{ oneOf: [{ required: ['private_key'] }, { required: ['private_key_file'] }] }]);
    expect(item.allOf[0]).toEqual({
      if: { properties: { provider: { const: 'opsmanager' } }, required: ['provider'] },
      then: { required: ['opsmanager'], properties: Object.fromEntries(PROVIDER_NAMES.filter((n) => n !== 'opsmanager').map((n) => [n, false])) },
    });
    expect(item.allOf).toHaveLength(PROVIDER_NAMES.length);
    // every property carries a description for editors
    const undocumented: string[] = [];
    const walk = (node: any, at: string) => {
      for (const [key, sub] of Object.entries<any>(node.properties ?? {})) {
        if (typeof sub.description !== 'string' || sub.description === '') undocumented.push(`${at}.${key}`);
        walk(sub, `${at}.${key}`);
      }
      if (node.items) walk(node.items, `${at}[]`);
    };
    walk(schema, '');
    expect(undocumented).toEqual([]);
  });
});

// Compile-time check (tsc --noEmit): the resolved types have the shape the rest of the code relies on.
const typeShape: Config = {
  global: { timeout: 1, lookback: 1, max_jobs: 1, max_resources: 1, min_interval: 0, max_concurrency: 1 },
  targets: [
    {
      name: 'n',
      provider: 'opsmanager',
      url: 'https://x',
      tls: { ca: 'pem', ca_file: '/ca.pem', insecure_skip_verify: false },
      timeout: 1,
      lookback: 1,
      max_jobs: 1,
      max_resources: 1,
      min_interval: 0,
      max_concurrency: 1,
      opsmanager: { public_key: 'p', private_key: 's', projects: ['x'] },
    },
  ],
};
void typeShape;
// @ts-expect-error a target carries its own provider's block, not another's
const otherProvidersBlock: TargetConfig = {
  name: 'n',
  provider: 'bluexp',
  url: 'https://x',
  timeout: 1,
  lookback: 1,
  max_jobs: 1,
  max_resources: 1,
  min_interval: 0,
  max_concurrency: 1,
  opsmanager: { public_key: 'p', private_key: 's' },
};
void otherProvidersBlock;

describe('the other providers\' blocks', () => {
  test('bluexp: defaults for token_url and audience', () => {
    const config = parse(
      'targets:\n  - name: b\n    provider: bluexp\n    url: https://cloudmanager.cloud.netapp.com\n    bluexp: { account_id: account-1, agent_id: abcclients, refresh_token: rt }\n',
    );
    expect(config.targets[0].bluexp).toEqual({
      account_id: 'account-1',
      agent_id: 'abcclients',
      refresh_token: 'rt',
      token_url: 'https://netapp-cloud-account.auth0.com/oauth/token',
      audience: 'https://api.cloud.netapp.com',
    });
  });

  test('ahsay: time zone, days and inventory_minutes default to UTC, 2 and 60', () => {
    const config = parse('targets:\n  - name: a\n    provider: ahsay\n    url: https://cbs.example.com\n    ahsay: { username: api, password: pw }\n');
    expect(config.targets[0].ahsay).toEqual({ username: 'api', password: 'pw', timezone: 'UTC', days: 2, inventory_minutes: 60 });
  });

  test('cbr: a nested secret file (iam.password_file) is read, and redacted on /config', () => {
    fs.writeFileSync(path.join(dir, 'iam.pw'), 'iam-secret-42\n');
    const config = parse(
      'targets:\n  - name: c\n    provider: cbr\n    url: https://cbr.ap-southeast-1.myhuaweicloud.com\n    cbr:\n      project_id: p1\n      iam: { url: "https://iam.example.com", domain: d, user: u, project: ap-southeast-1, password_file: iam.pw }\n',
    );
    expect(config.targets[0].cbr?.iam).toEqual({
      url: 'https://iam.example.com',
      domain: 'd',
      user: 'u',
      project: 'ap-southeast-1',
      password: 'iam-secret-42',
      password_file: path.join(dir, 'iam.pw'),
    });
    expect(JSON.stringify(redactConfig(config))).not.toContain('iam-secret-42');
    expect(JSON.stringify(redactConfig(config))).toContain('"password":"<secret>"');
  });
});

describe('a misspelt key or provider gets a suggestion, and a problem inside a target names it', () => {
  test.each([
    ['a target key', targets(target('ops-eu', 'lookbak: 2h')), 'targets[0]: unknown key "lookbak"; did you mean "lookback"? (target "ops-eu")'],
    ['a provider block key', targets(target('ops-eu', '', 'public_key: k\n      private_key: p\n      projets: [x]')), 'targets[0].opsmanager: unknown key "projets"; did you mean "projects"? (target "ops-eu")'],
    ['a tls key', targets(target('ops-eu', 'tls: { ca_fle: x.pem }')), 'targets[0].tls: unknown key "ca_fle"; did you mean "ca_file"? (target "ops-eu")'],
    ['a provider', targets(target('ops-eu')).replace('provider: opsmanager', 'provider: opsmanagr'), `targets[0].provider: unknown provider "opsmanagr"; did you mean "opsmanager"? (expected one of: ${PROVIDER_NAMES.join(', ')}) (target "ops-eu")`],
    ['a key nothing resembles', targets(target('ops-eu', 'labels: {}')), 'targets[0]: unknown key "labels" (target "ops-eu")'],
  ])('%s', (_what, yaml, line) => {
    expect(problemsOf(yaml)).toContain(line);
  });
});

describe('closestMatch', () => {
  test.each([
    ['timout', ['timeout', 'lookback'], 'timeout'],
    ['Lookback', ['timeout', 'lookback'], 'lookback'],
    ['max_concurency', ['max_concurrency', 'max_jobs'], 'max_concurrency'],
    ['ahsya', ['opsmanager', 'bluexp', 'ahsay', 'cbr'], 'ahsay'],
    ['labels', ['timeout', 'lookback'], undefined],
    ['x', ['cbr'], undefined],
    ['y'.repeat(100), ['y'.repeat(99)], undefined],
  ])('%s among %j -> %s', (word, candidates, expected) => {
    expect(closestMatch(word, candidates)).toBe(expected);
  });
});

describe('secretMasker', () => {
  const mask = secretMasker(['S3cr3tPassw0rd!XYZ', 'tok-abcdef']);
  test.each([
    ['a whole secret', 'SysPwd=S3cr3tPassw0rd!XYZ rejected', 'SysPwd=<secret> rejected'],
    ['its JSON form', 'body {"p":"S3cr3tPassw0rd!XYZ"}', 'body {"p":"<secret>"}'],
    ['the beginning a cut left before an ellipsis', `${'x'.repeat(20)} SysPwd=S3cr3tPa…`, `${'x'.repeat(20)} SysPwd=<secret>…`],
    ['a cut inside a word', 'token=tok-ab…', 'token=<secret>…'],
    ['a cut that begins no secret', 'the quick brown fo…', 'the quick brown fo…'],
    ['three characters are too few to say anything', 'value S3c…', 'value S3c…'],
  ])('%s', (_what, text, masked) => {
    expect(mask(text)).toBe(masked);
  });
});
