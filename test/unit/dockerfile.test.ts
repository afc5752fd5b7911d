/**
 * The Dockerfile, checked without a Docker engine: it is parsed, and the properties the deployment
 * docs promise are asserted (multi-stage, production dependencies only, a numeric non-root user, the
 * documented config path, EXPOSE 9877, a HEALTHCHECK on /-/healthy that works without curl, OCI
 * labels, an ENTRYPOINT that passes extra flags through, no simulator code and no demo
 * configuration in the exporter's image, the simulators' image apart).
 * test/integration/healthcheck.test.ts runs the HEALTHCHECK command itself against a local HTTP server.
 *
 * hadolint is not packaged in Debian bookworm; where a `hadolint` binary is on the PATH the last test
 * runs it, otherwise that test is skipped.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parse } from 'yaml';
import { DEMOS } from '../../simulators/demo';
import { ROOT } from '../helpers/process';

const CONFIG_PATH = '/etc/backup-exporter/exporter.yml';
const PORT = 9877;

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Instructions of a Dockerfile: comments dropped, `\` continuations joined. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buffer = '';
  let start = 0;
  text.split('\n').forEach((raw, index) => {
    if (/^\s*#/.test(raw)) return; // comments (and the syntax directive), also inside continuations
    if (buffer === '' && raw.trim() === '') return;
    if (buffer === '') start = index + 1;
    if (/\\\s*$/.test(raw)) {
      buffer += `${raw.replace(/\\\s*$/, '')} `;
      return;
    }
    buffer += raw;
    const match = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(buffer);
    if (!match) throw new Error(`Dockerfile line ${start}: cannot parse ${JSON.stringify(buffer)}`);
    out.push({ keyword: match[1].toUpperCase(), args: match[2].replace(/\s+/g, ' ').trim(), line: start });
    buffer = '';
  });
  if (buffer !== '') throw new Error('Dockerfile ends inside a line continuation');
  return out;
}

const dockerfileText = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const instructions = parseDockerfile(dockerfileText);

/** ARGs before the first FROM, with their defaults: they may be used in FROM lines. */
const globalArgs = new Map<string, string>();
for (const instruction of instructions) {
  if (instruction.keyword === 'FROM') break;
  if (instruction.keyword === 'ARG') {
    const [name, value = ''] = instruction.args.split('=');
    globalArgs.set(name, value);
  }
}
const expand = (text: string) => text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a: string, b: string) => globalArgs.get(a ?? b) ?? '');

const stages: Stage[] = [];
for (const instruction of instructions) {
  if (instruction.keyword === 'FROM') {
    const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
    if (!match) throw new Error(`Dockerfile line ${instruction.line}: cannot parse FROM ${instruction.args}`);
    stages.push({ from: expand(match[1]), name: match[2], instructions: [] });
  } else if (stages.length > 0) {
    stages[stages.length - 1].instructions.push(instruction);
  }
}
const runtime = stages[stages.length - 1];
const inRuntime = (keyword: string) => runtime.instructions.filter((i) => i.keyword === keyword);
const onlyOne = (keyword: string): Instruction => {
  const found = inRuntime(keyword);
  expect(found).toHaveLength(1);
  return found[0];
};
const execForm = (args: string): string[] => {
  const value = JSON.parse(args) as unknown;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new Error(`not an exec-form list: ${args}`);
  return value as string[];
};

/** `COPY [--from=x] [--chown=...] src... dest`: the flags and the paths. */
function copyParts(instruction: Instruction): { from?: string; sources: string[]; dest: string } {
  const words = instruction.args.split(' ');
  const flags = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: paths.slice(0, -1), dest: paths[paths.length - 1] };
}

/** Absolute destination of a COPY within its stage, from the WORKDIR before it. */
function copyDestination(stage: Stage, instruction: Instruction): string {
  let workdir = '/';
  for (const i of stage.instructions) {
    if (i === instruction) break;
    if (i.keyword === 'WORKDIR') workdir = posix.resolve(workdir, i.args);
  }
  return posix.resolve(workdir, copyParts(instruction).dest);
}

describe('the Dockerfile', () => {
  test('is multi-stage, every stage on an official Node.js image named without a registry host (or on an earlier stage)', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    stages.forEach((stage, index) => {
      if (stages.slice(0, index).some((earlier) => earlier.name === stage.from)) return;
      // Official Docker Library image: "node:<tag>", no registry host, no namespace.
      expect(stage.from).toMatch(/^node:20[\w.-]*$/);
    });
    expect(stages.slice(0, -1).every((s) => s.name)).toBe(true);
  });

  test('builds with every dependency and --ignore-scripts (package.json `prepare` would build too early)', () => {
    const npmRuns = stages.flatMap((s) => s.instructions).filter((i) => i.keyword === 'RUN' && /\bnpm (ci|install|i)\b/.test(i.args));
    expect(npmRuns.length).toBeGreaterThan(0);
    for (const run of npmRuns) expect(run.args).toContain('--ignore-scripts');
    const builds = stages.flatMap((s) => s.instructions).filter((i) => i.keyword === 'RUN' && /\bnpm run build(?![\w:-])/.test(i.args));
    expect(builds).toHaveLength(1);
  });

  test("the exporter's image holds no simulator code and no demo configuration", () => {
    // Every stage the runtime copies from, and the stages those are built on.
    const feeding = new Set<string>();
    const visit = (name: string | undefined) => {
      const stage = stages.find((s) => s.name === name);
      if (!stage || feeding.has(name!)) return;
      feeding.add(name!);
      visit(stage.from);
    };
    for (const copy of inRuntime('COPY')) visit(copyParts(copy).from);
    expect([...feeding].sort()).toEqual(['build', 'deps']);
    const copiedIn = [runtime, ...stages.filter((s) => s.name && feeding.has(s.name))]
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'COPY')
      .flatMap((i) => copyParts(i).sources);
    expect(copiedIn.filter((source) => /simulators|build\/|exporter\.ya?ml/.test(source))).toEqual([]);
    expect(runtime.instructions.filter((i) => i.keyword === 'RUN' && /simulators/.test(i.args))).toEqual([]);
  });

  test('the simulators are a stage of their own: built from simulators/, serving on every interface, not the default target', () => {
    const simulators = stages.find((s) => s.name === 'simulators');
    expect(simulators).toBeDefined();
    expect(simulators).not.toBe(runtime);
    const ofStage = (keyword: string) => simulators!.instructions.filter((i) => i.keyword === keyword);
    const entrypoint = execForm(ofStage('ENTRYPOINT')[0]!.args);
    expect(entrypoint.slice(0, 2)).toEqual(['node', '/app/build/simulators/main.js']);
    expect(entrypoint).toContain('--host=0.0.0.0');
    const [first, last] = ofStage('EXPOSE').map((i) => i.args.split('-').map(Number))[0]!;
    for (const demo of DEMOS) expect([demo.product, first! <= demo.port && demo.port <= last!]).toEqual([demo.product, true]);
    expect(ofStage('USER').at(-1)?.args).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/);
    const built = copyParts(ofStage('COPY').find((c) => copyParts(c).sources.some((src) => src.endsWith('/build')))!).from;
    const builder = stages.find((s) => s.name === built)!;
    expect(builder.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args)).toEqual(['npm run build:simulators']);
    expect(builder.instructions.some((i) => i.keyword === 'COPY' && copyParts(i).sources.includes('simulators'))).toBe(true);
  });

  test('the runtime stage holds production dependencies only', () => {
    // The runtime installs nothing itself ...
    for (const run of inRuntime('RUN')) expect(run.args).not.toMatch(/\bnpm (ci|install|i|prune)\b/);
    // ... and its node_modules come from a stage that installed with --omit=dev (or pruned to it).
    const modules = inRuntime('COPY').filter((c) => copyParts(c).sources.some((s) => /node_modules/.test(s)));
    expect(modules).toHaveLength(1);
    const { from } = copyParts(modules[0]);
    expect(from).toBeDefined();
    const source = stages.find((s) => s.name === from);
    expect(source).toBeDefined();
    const installs = source!.instructions.filter((i) => i.keyword === 'RUN' && /\bnpm (ci|install|i|prune)\b/.test(i.args));
    expect(installs.length).toBeGreaterThan(0);
    expect(installs[installs.length - 1].args).toMatch(/--omit=dev/);
    for (const install of installs) {
      if (/\bnpm (ci|install|i)\b/.test(install.args)) expect(install.args).toMatch(/--omit=dev|npm prune --omit=dev/);
    }
  });

  test('runs as a numeric, non-root user', () => {
    const users = inRuntime('USER');
    expect(users.length).toBeGreaterThan(0);
    const last = users[users.length - 1].args;
    expect(last).toMatch(/^\d+(:\d+)?$/);
    const [uid, gid] = last.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    if (gid !== undefined) expect(gid).toBeGreaterThan(0);
  });

  test('exposes 9877, the default --web.listen-address', () => {
    expect(inRuntime('EXPOSE').map((i) => i.args)).toEqual([String(PORT)]);
    expect(readFileSync(join(ROOT, 'src', 'cli.ts'), 'utf8')).toContain(`listenAddress: ':${PORT}'`);
  });

  test('ENTRYPOINT runs dist/main.js (package.json bin) on the documented config path, and passes extra flags through', () => {
    const entrypoint = execForm(onlyOne('ENTRYPOINT').args);
    expect(entrypoint[0]).toBe('node');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const distCopy = inRuntime('COPY').find((c) => copyParts(c).sources.some((s) => /\/dist$/.test(s)));
    expect(distCopy).toBeDefined();
    const distDir = copyDestination(runtime, distCopy!);
    expect(entrypoint[1]).toBe(posix.join(posix.dirname(distDir), pkg.bin['backup-exporter']));
    expect(entrypoint).toContain(`--config.file=${CONFIG_PATH}`);
    // An empty CMD: `docker run IMAGE --log.level=debug` appends to the ENTRYPOINT; the exporter's
    // flag parser lets a later --config.file win.
    expect(execForm(onlyOne('CMD').args)).toEqual([]);
    // main.js reads ../package.json for its version.
    const pkgCopy = inRuntime('COPY').find((c) => copyParts(c).sources.includes('package.json'));
    expect(pkgCopy).toBeDefined();
    expect(copyDestination(runtime, pkgCopy!)).toBe(posix.dirname(distDir));
  });

  test('the config path is the one docs/deployment.md and the Kubernetes Deployment use', () => {
    const docs = readFileSync(join(ROOT, 'docs', 'deployment.md'), 'utf8');
    expect(docs).toContain(CONFIG_PATH);
    expect(docs).toContain(`--config.file=${CONFIG_PATH}`);
    const deployment = parse(readFileSync(join(ROOT, 'deploy', 'kubernetes', 'deployment.yaml'), 'utf8')) as {
      spec: { template: { spec: { containers: Array<{ volumeMounts: Array<{ name: string; mountPath: string }> }> } } };
    };
    const mounts = deployment.spec.template.spec.containers[0].volumeMounts.map((m) => m.mountPath);
    expect(mounts).toContain(posix.dirname(CONFIG_PATH));
    // Nothing is built in there: a configuration is always mounted (a folder, as compose does).
    expect(inRuntime('COPY').filter((c) => copyDestination(runtime, c).startsWith(posix.dirname(CONFIG_PATH)))).toEqual([]);
  });

  test('HEALTHCHECK asks /-/healthy on 9877 with node, in exec form (no shell, curl or wget needed)', () => {
    const healthcheck = onlyOne('HEALTHCHECK').args;
    const match = /^((?:--[a-z-]+=\S+\s+)*)CMD\s+(\[.*\])$/.exec(healthcheck);
    expect(match).not.toBeNull();
    const command = execForm(match![2]);
    expect(command.slice(0, 2)).toEqual(['node', '-e']);
    expect(command[2]).toContain(`127.0.0.1:${PORT}/-/healthy`);
    expect(healthcheck).not.toMatch(/\b(curl|wget)\b/);
    expect(readFileSync(join(ROOT, 'src', 'server.ts'), 'utf8')).toContain("'/-/healthy'");
  });

  test('carries the OCI labels, with the license of package.json', () => {
    const labels = new Map<string, string>();
    for (const label of inRuntime('LABEL')) {
      for (const m of label.args.matchAll(/([\w.-]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) labels.set(m[1], m[2].replace(/^"|"$/g, ''));
    }
    for (const key of ['title', 'description', 'version', 'licenses']) {
      expect(labels.get(`org.opencontainers.image.${key}`)).toBeTruthy();
    }
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { license: string };
    expect(labels.get('org.opencontainers.image.licenses')).toBe(pkg.license);
  });

  test('.dockerignore lets in exactly what the Dockerfile copies from the build context', () => {
    const lines = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(lines[0]).toBe('*'); // an allow-list: nothing gets in unless named
    const allowed = lines.slice(1).map((l) => {
      expect(l.startsWith('!')).toBe(true);
      return l.slice(1).replace(/\/$/, '');
    });
    const fromContext = stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'COPY' && !copyParts(i).from)
      .flatMap((i) => copyParts(i).sources.map((s) => s.replace(/^\.\//, '').replace(/\/$/, '')));
    expect([...new Set(fromContext)].sort()).toEqual([...allowed].sort());
    for (const path of allowed) expect(existsSync(join(ROOT, path))).toBe(true);
    for (const never of ['node_modules', 'dist', '.git', 'test']) expect(allowed).not.toContain(never);
  });

  const hadolint = spawnSync('sh', ['-c', 'command -v hadolint']).status === 0;
  (hadolint ? test : test.skip)('hadolint finds nothing (runs only where hadolint is installed)', () => {
    const result = spawnSync('hadolint', [join(ROOT, 'Dockerfile')], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
