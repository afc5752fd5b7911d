/**
 * The one schema of exporter.yml. It validates the file (after ${ENV} expansion), converts durations
 * to milliseconds, applies defaults, and is the source of the JSON Schema for editors
 * (write-json-schema.ts) and of the resolved types the rest of the code uses.
 *
 * Adding a provider: define its block with defineProviderBlock() and add it to PROVIDER_BLOCKS.
 * Its secrets (with their *_file twins), the "block required for its provider" rule, redaction and
 * the resolved TargetConfig type all follow from that one entry.
 */
import { z } from 'zod';
import { PROVIDER_NAMES, type ProviderName } from '../model';
import { DURATION_PATTERN, parseDuration } from './duration';

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Quotes a value for an error message, cut short; only for names and durations, never secrets. */
export function quoteForMessage(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}...` : text);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A JSON Schema pattern that also accepts any value containing `${`: editors check the file as
 * written, and such a value is only known after ${ENV_VAR} expansion.
 */
function patternOrEnv(pattern: string): string {
  return `(?:${pattern})|\\$\\{`;
}

/** Refinements that must run even when other fields of the same object are invalid (all problems at once). */
const ALWAYS = { when: () => true } as const;

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
  min_interval: '0s',
  max_concurrency: 8,
} as const;

const TUNING_DESCRIPTIONS = {
  timeout: 'Longest time one collection of a target may take (Prometheus duration, > 0).',
  lookback: 'Jobs that started before now minus lookback are left out (Prometheus duration, > 0).',
  max_jobs: 'How many of the newest jobs per target get per-job series (integer 0..100000).',
  min_interval:
    'If > 0, a cached result younger than this is served instead of asking the product again (Prometheus duration, 0 disables the cache).',
  max_concurrency: 'Upstream requests in flight per target (integer 1..256).',
} as const;

/**
 * An integer in [min, max]. Not z.int(): its "not an integer" issue aborts the whole parse, which
 * would hide the cross-field problems (duplicate names, ...) that are reported together with it.
 */
function integer(min: number, max: number) {
  return z
    .number()
    .refine(Number.isInteger, { message: 'must be an integer' })
    .min(min)
    .max(max)
    .meta({ type: 'integer' });
}

function tuningFields() {
  return {
    timeout: duration({ allowZero: false }),
    lookback: duration({ allowZero: false }),
    max_jobs: integer(0, 100_000),
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
  min_interval: overrideFields.min_interval.optional().describe(override('min_interval')),
  max_concurrency: overrideFields.max_concurrency.optional().describe(override('max_concurrency')),
};

// ---------------------------------------------------------------------------------------------
// Provider blocks and their secrets

export interface SecretSpec {
  /** true: exactly one of `<name>` and `<name>_file` must be set; false: at most one. */
  readonly required: boolean;
  readonly description: string;
}

type SecretShape<K extends string> = { [P in K]: z.ZodOptional<z.ZodString> } & {
  [P in `${K}_file`]: z.ZodOptional<z.ZodString>;
};

/**
 * Builds the schema of a provider block. Each secret gets a `<name>_file` twin (read at load time);
 * the block rejects both being set, and a required secret rejects neither being set.
 */
export function defineProviderBlock<
  S extends z.ZodRawShape,
  const Sec extends Record<string, SecretSpec>,
  N extends Record<string, AnyProviderBlock> = Record<never, AnyProviderBlock>,
>(def: {
  description: string;
  fields: S;
  secrets: Sec;
  /** Sub-blocks with secrets of their own (e.g. cbr.iam); optional fields of this block. */
  nested?: N;
  /** Rules across fields (e.g. "one of two ways to authenticate"); report with ctx.addIssue. */
  refine?: (block: Record<string, unknown>, ctx: z.RefinementCtx) => void;
}) {
  const secretShape: Record<string, z.ZodOptional<z.ZodString>> = {};
  const oneOfs: object[] = [];
  for (const [name, spec] of Object.entries(def.secrets)) {
    const file = `${name}_file`;
    const rule = spec.required ? `Exactly one of ${name} and ${file} is required.` : `Set at most one of ${name} and ${file}.`;
    secretShape[name] = z
      .string()
      .min(1)
      .optional()
      .describe(`${spec.description} Secret: never logged or shown. Use \${ENV_VAR} or ${file} to keep it out of this file. ${rule}`);
    secretShape[file] = z
      .string()
      .min(1)
      .optional()
      .describe(
        `File holding ${name}, read at load time (trailing newlines trimmed); relative paths are relative to the config file's directory. ${rule}`,
      );
    oneOfs.push(
      spec.required
        ? { oneOf: [{ required: [name] }, { required: [file] }] }
        : { not: { required: [name, file] } },
    );
  }
  const nestedShape = Object.fromEntries(Object.entries(def.nested ?? {}).map(([key, block]) => [key, block.schema.optional()])) as {
    [K in keyof N]: z.ZodOptional<N[K]['schema']>;
  };
  const schema = z
    .strictObject({ ...def.fields, ...nestedShape, ...secretShape } as S & { [K in keyof N]: z.ZodOptional<N[K]['schema']> } & SecretShape<
        Extract<keyof Sec, string>
      >)
    .superRefine((parsed, ctx) => {
      if (!isRecord(parsed)) return;
      const value = parsed as Record<string, unknown>;
      for (const [name, spec] of Object.entries(def.secrets)) {
        const file = `${name}_file`;
        const hasValue = value[name] !== undefined;
        const hasFile = value[file] !== undefined;
        if (hasValue && hasFile) {
          ctx.addIssue({ code: 'custom', path: [], message: `set either ${name} or ${file}, not both` });
        } else if (spec.required && !hasValue && !hasFile) {
          ctx.addIssue({ code: 'custom', path: [name], message: `required (or ${file})` });
        }
      }
      def.refine?.(value, ctx);
    }, ALWAYS)
    .meta({ description: def.description, ...(oneOfs.length > 0 ? { allOf: oneOfs } : {}) });
  const nestedPaths = Object.entries(def.nested ?? {}).flatMap(([key, block]) => block.secretPaths.map((path) => [key, ...path]));
  const secretPaths: ReadonlyArray<readonly string[]> = [...Object.keys(def.secrets).map((name) => [name]), ...nestedPaths];
  return { schema, secrets: def.secrets, secretPaths };
}

interface AnyProviderBlock {
  schema: z.ZodType;
  secrets: Record<string, SecretSpec>;
  /** Where the block's secrets are, its own and its sub-blocks' (e.g. ["iam", "password"]). */
  secretPaths: ReadonlyArray<readonly string[]>;
}

/** At most one of the groups of fields may be set, and with `required`, exactly one. */
function oneOf(groups: Array<{ name: string; fields: string[] }>, required: boolean) {
  return (block: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const present = groups.filter((g) => g.fields.some((f) => block[f] !== undefined));
    const names = groups.map((g) => g.name).join(' or ');
    if (present.length > 1) ctx.addIssue({ code: 'custom', path: [], message: `set either ${names}, not both` });
    else if (required && present.length === 0) ctx.addIssue({ code: 'custom', path: [], message: `one of ${names} is required` });
  };
}

const nonEmpty = (description: string) => z.string().min(1).describe(description);

/** An http(s) URL field of a provider block (token endpoints); never echoed in messages. */
function httpUrl(description: string) {
  return z
    .string()
    .refine((text) => {
      try {
        const url = new URL(text);
        return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '';
      } catch {
        return false;
      }
    }, 'must be an http:// or https:// URL without user info')
    .describe(description);
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const opsManagerBlock = defineProviderBlock({
  description: 'MongoDB Ops Manager: API key (HTTP Digest authentication) and which projects to watch.',
  fields: {
    public_key: z.string().min(1).describe('Public key of the Ops Manager API key (the Digest user name).'),
    projects: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Project (group) ids to collect. Omit to collect every project the API key can see.'),
  },
  secrets: {
    private_key: { required: true, description: 'Private key of the Ops Manager API key (the Digest password).' },
  },
});

/** Documented defaults of the NetApp BlueXP (Console) authentication service. */
export const BLUEXP_DEFAULTS = {
  token_url: 'https://netapp-cloud-account.auth0.com/oauth/token',
  audience: 'https://api.cloud.netapp.com',
  /** The client id of the BlueXP Console, the same for every customer (refresh-token grant). */
  refresh_client_id: 'Mu0V1ywgYteI6w1MbD15fKfVIUrNXGWC',
} as const;

const blueXpBlock = defineProviderBlock({
  description:
    'NetApp BlueXP backup and recovery: account, Connector (agent) and credentials. Give refresh_token (refresh-token grant) or client_id with client_secret (client-credentials grant of a service account).',
  fields: {
    account_id: nonEmpty('BlueXP account id (account-xxxxxxxx).'),
    agent_id: nonEmpty('Connector (agent) id, sent as x-agent-id; with or without its "clients" suffix.'),
    token_url: httpUrl('Token endpoint of the BlueXP authentication service.').prefault(BLUEXP_DEFAULTS.token_url),
    audience: nonEmpty('Audience of the token request.').prefault(BLUEXP_DEFAULTS.audience),
    client_id: nonEmpty(
      `Client id of the token request: a service account's client id with client_secret; with refresh_token it defaults to the BlueXP Console's (${BLUEXP_DEFAULTS.refresh_client_id}).`,
    ).optional(),
  },
  secrets: {
    refresh_token: { required: false, description: 'Refresh token of a BlueXP user (refresh-token grant).' },
    client_secret: { required: false, description: 'Client secret of a BlueXP service account (client-credentials grant; needs client_id).' },
  },
  refine(block, ctx) {
    oneOf(
      [
        { name: 'refresh_token (or refresh_token_file)', fields: ['refresh_token', 'refresh_token_file'] },
        { name: 'client_secret (or client_secret_file)', fields: ['client_secret', 'client_secret_file'] },
      ],
      true,
    )(block, ctx);
    if ((block.client_secret !== undefined || block.client_secret_file !== undefined) && block.client_id === undefined) {
      ctx.addIssue({ code: 'custom', path: ['client_id'], message: 'required with client_secret' });
    }
  },
});

const ahsayBlock = defineProviderBlock({
  description: 'AhsayCBS: a system user with the API or Read-Only API role, and which backup users to read.',
  fields: {
    username: nonEmpty('AhsayCBS system user (SysUser) with the Admin, API or Read-Only API role.'),
    users: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Login names of the backup users to read. Omit to read every user (ListUsers).'),
    timezone: z
      .string()
      .refine(isTimeZone, 'not an IANA time zone (e.g. "Asia/Hong_Kong", "UTC")')
      .prefault('UTC')
      .describe("IANA time zone of the AhsayCBS server: its job times carry no zone."),
    days: integer(1, 31)
      .prefault(2)
      .describe('How many calendar days to read, today (in the server time zone) included.'),
  },
  secrets: {
    password: { required: true, description: 'Password of the system user (SysPwd).' },
  },
});

const cbrIamBlock = defineProviderBlock({
  description: 'IAM user whose token authenticates the requests (password method, project scope).',
  fields: {
    url: httpUrl('IAM endpoint, e.g. https://iam.ap-southeast-1.myhuaweicloud.com (the path /v3/auth/tokens is added).'),
    domain: nonEmpty('Account (domain) name of the IAM user.'),
    user: nonEmpty('IAM user name.'),
    project: nonEmpty('Project name the token is scoped to, e.g. ap-southeast-1.'),
  },
  secrets: {
    password: { required: true, description: 'Password of the IAM user.' },
  },
});

const cbrBlock = defineProviderBlock({
  description: 'Huawei Cloud Backup and Recovery (CBR): project and credentials, either an IAM user (iam) or an access key pair (access_key, secret_key).',
  fields: {
    project_id: nonEmpty('Project id whose backups and tasks are read.'),
    access_key: nonEmpty('Access key id (AK) for request signing (SDK-HMAC-SHA256).').optional(),
  },
  nested: { iam: cbrIamBlock },
  secrets: {
    secret_key: { required: false, description: 'Secret access key (SK) for request signing.' },
  },
  refine(block, ctx) {
    oneOf(
      [
        { name: 'iam', fields: ['iam'] },
        { name: 'access_key with secret_key', fields: ['access_key', 'secret_key', 'secret_key_file'] },
      ],
      true,
    )(block, ctx);
    const signing = block.access_key !== undefined || block.secret_key !== undefined || block.secret_key_file !== undefined;
    if (signing && block.access_key === undefined) ctx.addIssue({ code: 'custom', path: ['access_key'], message: 'required with secret_key' });
    if (signing && block.secret_key === undefined && block.secret_key_file === undefined) {
      ctx.addIssue({ code: 'custom', path: ['secret_key'], message: 'required with access_key (or secret_key_file)' });
    }
  },
});

/**
 * One block schema per supported provider; a target's block is named after its provider.
 * To support another provider of PROVIDER_NAMES, add its block here.
 */
export const PROVIDER_BLOCKS = {
  opsmanager: opsManagerBlock,
  bluexp: blueXpBlock,
  ahsay: ahsayBlock,
  cbr: cbrBlock,
} as const satisfies { [P in ProviderName]?: AnyProviderBlock };

export type SupportedProvider = keyof typeof PROVIDER_BLOCKS;
export const SUPPORTED_PROVIDERS = Object.keys(PROVIDER_BLOCKS) as SupportedProvider[];

/** Where the secrets of each provider block are (paths inside the block), from the block definitions. */
export const SECRET_PATHS: { readonly [P in SupportedProvider]: ReadonlyArray<readonly string[]> } = Object.fromEntries(
  SUPPORTED_PROVIDERS.map((p) => [p, PROVIDER_BLOCKS[p].secretPaths]),
) as { [P in SupportedProvider]: ReadonlyArray<readonly string[]> };

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
  .enum(SUPPORTED_PROVIDERS, {
    error: (issue) => {
      const supported = SUPPORTED_PROVIDERS.join(', ');
      if (issue.input === undefined) return 'required';
      if (typeof issue.input !== 'string') return `expected a provider name (one of: ${supported})`;
      return (PROVIDER_NAMES as readonly string[]).includes(issue.input)
        ? `provider ${quoteForMessage(issue.input)} is not supported yet (supported: ${supported})`
        : `unknown provider ${quoteForMessage(issue.input)} (expected one of: ${supported})`;
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
  SUPPORTED_PROVIDERS.map((p) => [p, PROVIDER_BLOCKS[p].schema.optional()]),
) as { [P in SupportedProvider]: z.ZodOptional<(typeof PROVIDER_BLOCKS)[P]['schema']> };

/** JSON Schema: the block named after the provider is required, blocks of other providers are not allowed. */
const providerBlockRules = SUPPORTED_PROVIDERS.map((p) => ({
  if: { properties: { provider: { const: p } }, required: ['provider'] },
  then: {
    required: [p],
    ...(SUPPORTED_PROVIDERS.length > 1
      ? { properties: Object.fromEntries(SUPPORTED_PROVIDERS.filter((q) => q !== p).map((q) => [q, false])) }
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
    if (!isRecord(target)) return;
    const chosen = target.provider;
    if (typeof chosen !== 'string' || !(PROVIDER_NAMES as readonly string[]).includes(chosen)) return;
    for (const p of SUPPORTED_PROVIDERS) {
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
    if (!isRecord(config) || !Array.isArray(config.targets)) return;
    const firstIndex = new Map<string, number>();
    config.targets.forEach((target: unknown, index: number) => {
      if (!isRecord(target) || typeof target.name !== 'string') return;
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

type RequiredSecrets<Sec> = Extract<{ [K in keyof Sec]: Sec[K] extends { required: true } ? K : never }[keyof Sec], string>;

/** A provider block with its required secrets resolved to their values (`<name>_file` holds the absolute path, if used). */
export type ProviderConfig<P extends SupportedProvider> = Omit<
  z.output<(typeof PROVIDER_BLOCKS)[P]['schema']>,
  RequiredSecrets<(typeof PROVIDER_BLOCKS)[P]['secrets']>
> & { [K in RequiredSecrets<(typeof PROVIDER_BLOCKS)[P]['secrets']>]: string };

type ProviderConfigs = { [P in SupportedProvider]?: ProviderConfig<P> };

export interface OpsManagerConfig extends ProviderConfig<'opsmanager'> {}

type ParsedTarget = z.output<typeof targetSchema>;
export interface TargetConfig
  extends Omit<ParsedTarget, keyof Tuning | 'provider' | 'tls' | SupportedProvider>,
    Tuning,
    ProviderConfigs {
  provider: ProviderName;
  tls?: TlsConfig;
}

export interface Config {
  global: GlobalConfig;
  targets: TargetConfig[];
}
