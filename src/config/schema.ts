/**
 * The one schema of exporter.yml. It validates the file (after ${ENV} expansion), converts durations
 * to milliseconds, applies defaults, and is the source of the JSON Schema for editors
 * (write-json-schema.ts) and of the resolved types the rest of the code uses.
 *
 * A target's provider block comes from its provider's definition (src/providers/<name>.ts, listed in
 * src/providers/index.ts): its secrets (with their *_file twins), the "block required for its
 * provider" rule, redaction and the resolved TargetConfig type all follow from that one entry.
 */
import { z } from 'zod';
import { PROVIDERS, PROVIDER_NAMES, isProviderName } from '../providers';
import type { ProviderName, SettingsOf } from '../providers';
import { closestMatch, isObject, quoteForMessage } from '../text';
import { ALWAYS, integer, patternOrEnv } from './blocks';
import type { ProviderBlock } from './blocks';
import { DURATION_PATTERN, parseDuration } from './duration';

// ---------------------------------------------------------------------------------------------
// Durations and tuning knobs (global defaults, per-target overrides)

function duration(options: { allowZero: boolean }) {
  return z
    .string()
    .meta({ pattern: patternOrEnv(DURATION_PATTERN) })
    .transform((text, ctx) => {
      let ms: number;
      try {
        ms = parseDuration(text);
      } catch (err) {
        ctx.issues.push({ code: 'custom', message: (err as Error).message, input: text });
        return z.NEVER;
      }
      if (!options.allowZero && ms <= 0) {
        ctx.issues.push({ code: 'custom', message: `must be greater than 0 (got ${quoteForMessage(text)})`, input: text });
        return z.NEVER;
      }
      return ms;
    });
}

/** Defaults of the `global` block, as written in YAML. */
export const GLOBAL_DEFAULTS = {
  timeout: '10s',
  lookback: '7d',
  max_jobs: 100,
  max_resources: 10_000,
  min_interval: '0s',
  max_concurrency: 8,
} as const;

const TUNING_DESCRIPTIONS = {
  timeout: 'Longest time one collection of a target may take (Prometheus duration, > 0).',
  lookback: 'Jobs that started before now minus lookback are left out (Prometheus duration, > 0).',
  max_jobs: 'How many of the newest jobs per target get per-job series (integer 0..100000).',
  max_resources:
    'How many resources per target get a series in each per-resource metric (last success, last failure, newest restore point), the worst first (integer 0..1000000).',
  min_interval:
    'If > 0, a cached result younger than this is served instead of asking the product again (Prometheus duration, 0 disables the cache).',
  max_concurrency: 'Upstream requests in flight per target (integer 1..256).',
} as const;

function tuningFields() {
  return {
    timeout: duration({ allowZero: false }),
    lookback: duration({ allowZero: false }),
    max_jobs: integer(0, 100_000),
    max_resources: integer(0, 1_000_000),
    min_interval: duration({ allowZero: true }),
    max_concurrency: integer(1, 256),
  };
}

const globalFields = tuningFields();
export const globalSchema = z
  .strictObject({
    timeout: globalFields.timeout.prefault(GLOBAL_DEFAULTS.timeout).describe(TUNING_DESCRIPTIONS.timeout),
    lookback: globalFields.lookback.prefault(GLOBAL_DEFAULTS.lookback).describe(TUNING_DESCRIPTIONS.lookback),
    max_jobs: globalFields.max_jobs.prefault(GLOBAL_DEFAULTS.max_jobs).describe(TUNING_DESCRIPTIONS.max_jobs),
    max_resources: globalFields.max_resources.prefault(GLOBAL_DEFAULTS.max_resources).describe(TUNING_DESCRIPTIONS.max_resources),
    min_interval: globalFields.min_interval
      .prefault(GLOBAL_DEFAULTS.min_interval)
      .describe(TUNING_DESCRIPTIONS.min_interval),
    max_concurrency: globalFields.max_concurrency
      .prefault(GLOBAL_DEFAULTS.max_concurrency)
      .describe(TUNING_DESCRIPTIONS.max_concurrency),
  })
  .describe('Defaults for every target. All keys are optional.');

const overrideFields = tuningFields();
const override = (key: keyof typeof TUNING_DESCRIPTIONS) =>
  `Overrides global.${key} for this target. ${TUNING_DESCRIPTIONS[key]}`;
const targetOverrideShape = {
  timeout: overrideFields.timeout.optional().describe(override('timeout')),
  lookback: overrideFields.lookback.optional().describe(override('lookback')),
  max_jobs: overrideFields.max_jobs.optional().describe(override('max_jobs')),
  max_resources: overrideFields.max_resources.optional().describe(override('max_resources')),
  min_interval: overrideFields.min_interval.optional().describe(override('min_interval')),
  max_concurrency: overrideFields.max_concurrency.optional().describe(override('max_concurrency')),
};

// ---------------------------------------------------------------------------------------------
// Provider blocks, from the provider definitions

type Registered = (typeof PROVIDERS)[number];

/** Each provider's block schema, keyed by provider name. */
export const PROVIDER_BLOCKS = Object.fromEntries(PROVIDERS.map((p) => [p.name, p.config])) as {
  [D in Registered as D['name']]: D['config'];
};

/** Where the secrets of each provider block are (paths inside the block), from the block definitions. */
export const SECRET_PATHS: { readonly [P in ProviderName]: ReadonlyArray<readonly string[]> } = Object.fromEntries(
  PROVIDERS.map((p) => [p.name, (p.config as ProviderBlock).secretPaths]),
) as { [P in ProviderName]: ReadonlyArray<readonly string[]> };

// ---------------------------------------------------------------------------------------------
// Targets

export const TARGET_NAME_PATTERN = '^[a-zA-Z0-9_.:-]{1,64}$';

const targetName = z
  .string()
  .regex(new RegExp(TARGET_NAME_PATTERN), {
    error: (issue) =>
      `invalid target name ${quoteForMessage(issue.input)}: use 1 to 64 characters of a-z, A-Z, 0-9, "_", ".", ":" and "-"`,
  })
  .meta({ pattern: patternOrEnv(TARGET_NAME_PATTERN) })
  .describe('Unique name of the target; the `target` label of its series and the `target` parameter of /probe.');

const provider = z
  .enum(PROVIDER_NAMES as [ProviderName, ...ProviderName[]], {
    error: (issue) => {
      const supported = PROVIDER_NAMES.join(', ');
      if (issue.input === undefined) return 'required';
      if (typeof issue.input !== 'string') return `expected a provider name (one of: ${supported})`;
      const near = closestMatch(issue.input, PROVIDER_NAMES);
      return `unknown provider ${quoteForMessage(issue.input)}${near ? `; did you mean "${near}"?` : ''} (expected one of: ${supported})`;
    },
  })
  .describe('Which product this target is. The target must have a block of the same name with its settings.');

const targetUrl = z
  .string()
  .meta({ pattern: patternOrEnv('^[hH][tT][tT][pP][sS]?://[^/?#@\\s]') })
  .transform((text, ctx) => {
    // Messages never echo the URL: it might carry credentials.
    const fail = (message: string) => {
      ctx.issues.push({ code: 'custom', message, input: text });
      return z.NEVER;
    };
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return fail('not a valid URL (expected e.g. https://host:8443)');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail('must be an http:// or https:// URL');
    if (url.username !== '' || url.password !== '') {
      return fail('must not contain a user name or password; put credentials in the provider block');
    }
    if (url.search !== '' || url.hash !== '' || /[?#]/.test(text)) return fail('must not contain a query (?) or fragment (#)');
    return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  })
  .describe('Base URL of the product: http or https, no user info, no query or fragment. A trailing slash is removed.');

const tlsSchema = z
  .strictObject({
    ca_file: z
      .string()
      .min(1)
      .optional()
      .describe(
        "PEM file with the CA certificate(s) to trust, read at load time; relative paths are relative to the config file's directory.",
      ),
    insecure_skip_verify: z
      .boolean()
      .prefault(false)
      .describe('Do not verify the server certificate. For tests only.'),
  })
  .describe('TLS settings for https URLs.');

const blockShape = Object.fromEntries(
  PROVIDER_NAMES.map((p) => [p, PROVIDER_BLOCKS[p].schema.optional()]),
) as { [P in ProviderName]: z.ZodOptional<(typeof PROVIDER_BLOCKS)[P]['schema']> };

/** JSON Schema: the block named after the provider is required, blocks of other providers are not allowed. */
const providerBlockRules = PROVIDER_NAMES.map((p) => ({
  if: { properties: { provider: { const: p } }, required: ['provider'] },
  then: {
    required: [p],
    ...(PROVIDER_NAMES.length > 1
      ? { properties: Object.fromEntries(PROVIDER_NAMES.filter((q) => q !== p).map((q) => [q, false])) }
      : {}),
  },
}));

export const targetSchema = z
  .strictObject({
    name: targetName,
    provider,
    url: targetUrl,
    tls: tlsSchema.optional(),
    ...targetOverrideShape,
    ...blockShape,
  })
  .superRefine((target, ctx) => {
    if (!isObject(target)) return;
    const chosen = target.provider;
    if (!isProviderName(chosen)) return;
    for (const p of PROVIDER_NAMES) {
      if (p === chosen && target[p] === undefined) {
        ctx.addIssue({ code: 'custom', path: [p], message: `required for provider "${p}"` });
      } else if (p !== chosen && target[p] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [p], message: `not allowed for provider "${chosen}" (only a "${chosen}" block is)` });
      }
    }
  }, ALWAYS)
  .meta({ description: 'One product instance to collect from.', allOf: providerBlockRules });

// ---------------------------------------------------------------------------------------------
// The whole file

export const configSchema = z
  .strictObject({
    global: globalSchema.prefault({}),
    targets: z
      .array(targetSchema)
      .prefault([])
      .describe('Products to collect from. May be empty: the exporter then serves only its own metrics.'),
  })
  .superRefine((config, ctx) => {
    if (!isObject(config) || !Array.isArray(config.targets)) return;
    const firstIndex = new Map<string, number>();
    config.targets.forEach((target: unknown, index: number) => {
      if (!isObject(target) || typeof target.name !== 'string') return;
      const first = firstIndex.get(target.name);
      if (first === undefined) {
        firstIndex.set(target.name, index);
      } else {
        ctx.addIssue({
          code: 'custom',
          path: ['targets', index, 'name'],
          message: `duplicate target name ${quoteForMessage(target.name)} (first at targets[${first}])`,
        });
      }
    });
  }, ALWAYS)
  .meta({
    title: 'backup-exporter configuration',
    description: 'exporter.yml of backup-exporter. Every string value may use ${ENV_VAR}; write $${ for a literal ${.',
  });

// ---------------------------------------------------------------------------------------------
// Resolved types: the validated output plus what load.ts adds (secret files and CA files read,
// globals merged into each target). The rest of the code uses exactly these.

/** The validated file before secrets and CA files are read and globals merged. */
export type ParsedConfig = z.output<typeof configSchema>;

type Tuning = z.output<typeof globalSchema>;
export interface GlobalConfig extends Tuning {}

type ParsedTls = z.output<typeof tlsSchema>;
export interface TlsConfig extends ParsedTls {
  /** PEM contents of ca_file. */
  ca?: string;
}

type ParsedTarget = z.output<typeof targetSchema>;

/** What every target has, whatever its provider: name, url, TLS and the tuning knobs (globals merged in). */
export interface TargetCommon extends Omit<ParsedTarget, keyof Tuning | 'provider' | 'tls' | ProviderName>, Tuning {
  provider: ProviderName;
  tls?: TlsConfig;
}

/** A target of provider `P`: the common settings and the resolved `<P>:` block (and no other provider's). */
export type TargetOf<P extends ProviderName> = TargetCommon & { provider: P } & { [K in P]: SettingsOf<P> } & {
  [K in Exclude<ProviderName, P>]?: undefined;
};

/** A resolved target: a union discriminated by `provider`, so narrowing on it types the provider's block. */
export type TargetConfig = { [P in ProviderName]: TargetOf<P> }[ProviderName];

/** A target's own provider block, the one named after its provider (the schema guarantees it). */
export function providerBlockOf(target: TargetConfig): Record<string, unknown> {
  return (target as unknown as Record<string, Record<string, unknown>>)[target.provider]!;
}

export interface Config {
  global: GlobalConfig;
  targets: TargetConfig[];
}
