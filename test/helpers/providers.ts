/**
 * One table of every product for tests that run the same thing against every provider: how to
 * start each one's simulator (small, on a random port of 127.0.0.1, with optional faults and TLS,
 * with known secret values) and how to write its target block of exporter.yml (with those secrets,
 * or with wrong ones).
 *
 * Secrets are generated fresh per simulator (`knownSecrets`), each a distinct random string, so a
 * value found where it must not be points at exactly one field of one target. The tokens the
 * simulators issue (BlueXP and Atlas bearer tokens, Huawei IAM tokens) are recorded as they go out, since
 * they are secrets too.
 */
import { PROVIDER_NAMES } from '../../src/providers';
import type { ProviderName } from '../../src/providers';
import { randomBytes } from 'node:crypto';
import express from 'express';
import { createAhsaySimulator } from '../../simulators/ahsay';
import type { AhsaySimulatorOptions } from '../../simulators/ahsay';
import { BLUEXP_TOKEN_PATHS, createBlueXpSimulator } from '../../simulators/bluexp';
import type { BlueXpSimulator, BlueXpSimulatorOptions } from '../../simulators/bluexp';
import { ATLAS_TOKEN_PATH, createAtlasSimulator } from '../../simulators/atlas';
import type { AtlasSimulatorOptions } from '../../simulators/atlas';
import { createCbrSimulator } from '../../simulators/cbr';
import type { CbrSimulator, CbrSimulatorOptions } from '../../simulators/cbr';
import { startSimulator } from '../../simulators/framework';
import type { Faults, Simulator } from '../../simulators/framework';
import { createOpsManagerSimulator } from '../../simulators/opsmanager';

/** Every registered provider: a new one makes the tables below incomplete until it has its entries. */
export const PROVIDERS = PROVIDER_NAMES;
export type Provider = ProviderName;

/**
 * How a target authenticates, per provider, the first way being the default: the secret field a
 * target of that way is configured with, and whether the product then hands out access tokens.
 */
export const AUTH_VARIANTS = {
  opsmanager: { digest: { field: 'private_key', tokens: false } },
  bluexp: { refresh_token: { field: 'refresh_token', tokens: true }, client_credentials: { field: 'client_secret', tokens: true } },
  ahsay: { password: { field: 'password', tokens: false } },
  cbr: { aksk: { field: 'secret_key', tokens: false }, iam: { field: 'iam_password', tokens: true } },
  atlas: { digest: { field: 'private_key', tokens: false }, client_credentials: { field: 'client_secret', tokens: true } },
} as const satisfies Record<Provider, Record<string, { field: string; tokens: boolean }>>;
export type AuthVariant = { [P in Provider]: Extract<keyof (typeof AUTH_VARIANTS)[P], string> }[Provider];

/** One provider with one way of authenticating: the columns of the tests that run against every provider. */
export interface AuthSubject {
  /** The provider's name for its default way, `<provider>-<way>` for the others (e.g. cbr-iam). */
  id: string;
  provider: Provider;
  auth: AuthVariant;
  /** The secret field (of SECRET_FIELDS) a target of this way is configured with. */
  field: string;
  /** The product hands out access tokens. */
  tokens: boolean;
}

export const AUTH_SUBJECTS: readonly AuthSubject[] = PROVIDERS.flatMap((provider) =>
  Object.entries(AUTH_VARIANTS[provider] as Record<string, { field: string; tokens: boolean }>).map(([auth, { field, tokens }], index) => ({
    id: index === 0 ? provider : `${provider}-${auth.replace(/_/g, '-')}`,
    provider,
    auth: auth as AuthVariant,
    field,
    tokens,
  })),
);

/** The secret fields of each provider (values are generated per simulator). */
export const SECRET_FIELDS = {
  opsmanager: ['private_key'],
  bluexp: ['refresh_token', 'client_secret'],
  ahsay: ['password'],
  cbr: ['secret_key', 'iam_password'],
  atlas: ['private_key', 'client_secret'],
} as const satisfies Record<Provider, readonly string[]>;

export type Secrets = Record<string, string>;

/** Distinct random values for every secret field of `provider`, e.g. { private_key: "opsmanager-private_key-3f0c...". } */
export function knownSecrets(provider: Provider, label = 'right'): Secrets {
  return Object.fromEntries(SECRET_FIELDS[provider].map((field) => [field, `${provider}-${label}-${field}-${randomBytes(9).toString('hex')}`]));
}

/** The smallest valid block of each provider, for tests that bind a provider without a simulator. */
export const MINIMAL_BLOCKS: Readonly<Record<Provider, Record<string, unknown>>> = {
  opsmanager: { public_key: 'k', private_key: 'p' },
  bluexp: { account_id: 'account-1', agent_id: 'agentclients', token_url: 'http://127.0.0.1:1/oauth/token', audience: 'https://api.cloud.netapp.com', refresh_token: 'r' },
  ahsay: { username: 'u', password: 'p', timezone: 'Asia/Hong_Kong', days: 2 },
  cbr: { project_id: 'p', access_key: 'AK', secret_key: 'SK' },
  atlas: { public_key: 'k', private_key: 'p' },
};

/** Identities that are not secret, the same for every simulator. */
export const IDENTITIES = {
  opsmanager: { publicKey: 'sec-ops-public-key' },
  bluexp: { accountId: 'account-Pr0v1der', agentId: 'ProvidersConnectorAgent000000001', clientId: 'providers-service-account' },
  ahsay: { sysUser: 'providers-api', timezone: 'UTC' },
  cbr: {
    projectId: '0f1e2d3c4b5a49788796a5b4c3d2e1f0',
    accessKey: 'PROVIDERSACCESSKEY01',
    domain: 'acme',
    user: 'exporter',
    project: 'ap-southeast-1',
  },
  atlas: { publicKey: 'providers-atlas-public-key', clientId: 'mdb_sa_id_providers' },
} as const;

/** Knobs of a product's tokens (BlueXP and CBR over IAM). */
export interface TokenKnobs {
  /** Every access token issued so far expires now. */
  expire(): void;
  /** Every access token issued so far is forgotten. */
  revoke(): void;
  /**
   * The long-lived credential stops working (BlueXP: the refresh token and the service account's
   * secret are revoked; CBR: the IAM password changes) and every access token is revoked with it.
   */
  revokeCredentials(): void;
  /** Tokens issued so far. */
  issued(): number;
}

export interface StartOptions {
  faults?: Partial<Faults>;
  /** Serve HTTPS with this key and certificate. */
  tls?: { key: string; cert: string };
  /** The secrets the simulator accepts (default: fresh knownSecrets). */
  secrets?: Secrets;
  /** The values a target with wrong credentials sends (default: fresh knownSecrets labelled "wrong"). */
  wrongSecrets?: Secrets;
  /**
   * The simulator's clock (default: stopped at the start), so that every answer is the same from one
   * scrape to the next. BlueXP tokens and Ops Manager nonces follow it too, so they do not expire by
   * themselves (TokenKnobs still expire them); CBR checks tokens and signatures against the real time.
   */
  clock?: () => number;
}

function dataClock(options: StartOptions): () => number {
  if (options.clock) return options.clock;
  const frozen = Date.now();
  return () => frozen;
}

/** Where a target points: a running simulator, or any URL (a closed port) with secrets. */
export interface Endpoint {
  url: string;
  secrets: Secrets;
  wrongSecrets: Secrets;
}

export interface StartedSimulator extends Endpoint {
  provider: Provider;
  /** Live faults (mutate in place), request stats, reset(). */
  sim: Simulator;
  /** Every token the simulator handed out, in order (bearer and IAM tokens; empty for the others). */
  issuedTokens: string[];
  /** Token knobs, for products with tokens. */
  tokens?: TokenKnobs;
  close(): Promise<void>;
}

export interface TargetOptions {
  /** Send the endpoint's wrongSecrets instead of its secrets. */
  wrong?: boolean;
  /** Authentication variant (default the provider's first). */
  auth?: AuthVariant;
  /** PEM file the target trusts (tls.ca_file). */
  caFile?: string;
  /** Extra target keys, indented by four spaces, e.g. "    timeout: 5s\n". */
  extra?: string;
}

export interface ProviderEntry {
  name: Provider;
  /** Starts a small simulator of this product. */
  start(options?: StartOptions): Promise<StartedSimulator>;
  /** The target block (a `targets:` list item) for `endpoint`. */
  target(name: string, endpoint: Endpoint, options?: TargetOptions): string;
}

/** A YAML scalar that is the string as given (JSON strings are YAML flow scalars). */
const q = (value: string): string => JSON.stringify(value);

function head(name: string, provider: Provider, url: string, options: TargetOptions): string {
  const tls = options.caFile ? `    tls:\n      ca_file: ${q(options.caFile)}\n` : '';
  return `  - name: ${q(name)}\n    provider: ${provider}\n    url: ${q(url)}\n${tls}${options.extra ?? ''}`;
}

function secretsOf(endpoint: Endpoint, options: TargetOptions): Secrets {
  return options.wrong ? endpoint.wrongSecrets : endpoint.secrets;
}

/** Token endpoints whose JSON answers carry an `access_token`. */
const TOKEN_PATHS: readonly string[] = [...BLUEXP_TOKEN_PATHS, ATLAS_TOKEN_PATH];

/**
 * Starts `app` behind a layer that records the tokens going out: the `access_token` of a token
 * endpoint's JSON answer (BlueXP, Atlas), Huawei IAM's X-Subject-Token header.
 */
async function startRecording(app: express.Express, options: StartOptions, tokens: string[]) {
  const outer = express();
  outer.disable('x-powered-by');
  outer.use((req, res, next) => {
    const setHeader = res.setHeader.bind(res);
    res.setHeader = ((name: string, value: number | string | readonly string[]) => {
      if (name.toLowerCase() === 'x-subject-token') tokens.push(String(value));
      return setHeader(name, value);
    }) as typeof res.setHeader;
    if (TOKEN_PATHS.includes(req.path)) {
      const raw = res as unknown as { end: (...args: unknown[]) => unknown };
      const end = raw.end.bind(res);
      raw.end = (...args: unknown[]) => {
        const chunk = args[0];
        if (Buffer.isBuffer(chunk) || typeof chunk === 'string') {
          try {
            const token = (JSON.parse(chunk.toString()) as { access_token?: unknown }).access_token;
            if (typeof token === 'string') tokens.push(token);
          } catch {
            // Not a token answer (a refusal, or a fault-shaped body).
          }
        }
        return end(...args);
      };
    }
    next();
  });
  outer.use(app);
  return startSimulator(outer, options.tls ? { tls: options.tls } : {});
}

async function started(
  provider: Provider,
  sim: Simulator,
  options: StartOptions,
  secrets: Secrets,
  wrongSecrets: Secrets,
  tokens: string[],
  knobs?: TokenKnobs,
): Promise<StartedSimulator> {
  const running = await startRecording(sim.app, options, tokens);
  return { provider, url: running.url, secrets, wrongSecrets, sim, issuedTokens: tokens, tokens: knobs, close: () => running.close() };
}

const opsmanager: ProviderEntry = {
  name: 'opsmanager',
  async start(options = {}) {
    const secrets = options.secrets ?? knownSecrets('opsmanager');
    const sim = createOpsManagerSimulator({
      publicKey: IDENTITIES.opsmanager.publicKey,
      privateKey: secrets.private_key!,
      projects: 1,
      clustersPerProject: 1,
      shardedEvery: 0,
      jobsPerCluster: 5,
      clock: dataClock(options),
      faults: options.faults,
    });
    return started('opsmanager', sim, options, secrets, options.wrongSecrets ?? knownSecrets('opsmanager', 'wrong'), []);
  },
  target(name, endpoint, options = {}) {
    const s = secretsOf(endpoint, options);
    return `${head(name, 'opsmanager', endpoint.url, options)}    opsmanager:
      public_key: ${q(IDENTITIES.opsmanager.publicKey)}
      private_key: ${q(s.private_key!)}
`;
  },
};

const bluexp: ProviderEntry = {
  name: 'bluexp',
  async start(options = {}) {
    const secrets = options.secrets ?? knownSecrets('bluexp');
    const tokens: string[] = [];
    // Kept: the simulator reads refreshToken and serviceAccount from this object on every token request.
    const simOptions: BlueXpSimulatorOptions = {
      accountId: IDENTITIES.bluexp.accountId,
      agentId: IDENTITIES.bluexp.agentId,
      refreshToken: secrets.refresh_token!,
      serviceAccount: { clientId: IDENTITIES.bluexp.clientId, clientSecret: secrets.client_secret! },
      jobs: 6,
      workingEnvironments: 1,
      volumesPerEnvironment: 2,
      clock: dataClock(options),
      faults: options.faults,
    };
    const sim: BlueXpSimulator = createBlueXpSimulator(simOptions);
    const knobs: TokenKnobs = {
      expire: () => void sim.expireTokens(),
      revoke: () => void sim.revokeTokens(),
      revokeCredentials: () => {
        simOptions.refreshToken = `revoked-${randomBytes(9).toString('hex')}`;
        simOptions.serviceAccount = { clientId: IDENTITIES.bluexp.clientId, clientSecret: `revoked-${randomBytes(9).toString('hex')}` };
        sim.revokeTokens();
      },
      issued: () => sim.tokens.grants.refresh_token + sim.tokens.grants.client_credentials,
    };
    return started('bluexp', sim, options, secrets, options.wrongSecrets ?? knownSecrets('bluexp', 'wrong'), tokens, knobs);
  },
  target(name, endpoint, options = {}) {
    const s = secretsOf(endpoint, options);
    const credentials =
      (options.auth ?? 'refresh_token') === 'client_credentials'
        ? `      client_id: ${q(IDENTITIES.bluexp.clientId)}\n      client_secret: ${q(s.client_secret!)}\n`
        : `      refresh_token: ${q(s.refresh_token!)}\n`;
    return `${head(name, 'bluexp', endpoint.url, options)}    bluexp:
      account_id: ${q(IDENTITIES.bluexp.accountId)}
      agent_id: ${q(IDENTITIES.bluexp.agentId)}
      token_url: ${q(`${endpoint.url}/oauth/token`)}
${credentials}`;
  },
};

const ahsay: ProviderEntry = {
  name: 'ahsay',
  async start(options = {}) {
    const secrets = options.secrets ?? knownSecrets('ahsay');
    const simOptions: AhsaySimulatorOptions = {
      sysUser: IDENTITIES.ahsay.sysUser,
      sysPwd: secrets.password!,
      users: 2,
      timezone: IDENTITIES.ahsay.timezone,
      // No odd times: a healthy target then logs nothing at warn.
      badTimeRate: 0,
      clock: dataClock(options),
      faults: options.faults,
    };
    return started('ahsay', createAhsaySimulator(simOptions), options, secrets, options.wrongSecrets ?? knownSecrets('ahsay', 'wrong'), []);
  },
  target(name, endpoint, options = {}) {
    const s = secretsOf(endpoint, options);
    return `${head(name, 'ahsay', endpoint.url, options)}    ahsay:
      username: ${q(IDENTITIES.ahsay.sysUser)}
      password: ${q(s.password!)}
      timezone: ${q(IDENTITIES.ahsay.timezone)}
`;
  },
};

const cbr: ProviderEntry = {
  name: 'cbr',
  async start(options = {}) {
    const secrets = options.secrets ?? knownSecrets('cbr');
    const tokens: string[] = [];
    const id = IDENTITIES.cbr;
    const user = { domain: id.domain, user: id.user, password: secrets.iam_password!, project: id.project };
    // Kept: the simulator looks the IAM users up in this object on every token request.
    const simOptions: CbrSimulatorOptions = {
      projectId: id.projectId,
      accessKeys: { [id.accessKey]: secrets.secret_key! },
      iamUsers: [user],
      // Off: targets with a wrong secret key would otherwise lock the access key of the good ones.
      akLockout: false,
      vaults: 1,
      resourcesPerVault: 2,
      backupsPerResource: 3,
      restores: 2,
      clock: dataClock(options),
      faults: options.faults,
    };
    const sim: CbrSimulator = createCbrSimulator(simOptions);
    const knobs: TokenKnobs = {
      expire: () => sim.expireTokens(),
      revoke: () => sim.revokeTokens(),
      revokeCredentials: () => {
        user.password = `changed-${randomBytes(9).toString('hex')}`;
        sim.revokeTokens();
      },
      issued: () => sim.tokensIssued(),
    };
    return started('cbr', sim, options, secrets, options.wrongSecrets ?? knownSecrets('cbr', 'wrong'), tokens, knobs);
  },
  target(name, endpoint, options = {}) {
    const s = secretsOf(endpoint, options);
    const id = IDENTITIES.cbr;
    const credentials =
      (options.auth ?? 'aksk') === 'iam'
        ? `      iam:
        url: ${q(endpoint.url)}
        domain: ${q(id.domain)}
        user: ${q(id.user)}
        password: ${q(s.iam_password!)}
        project: ${q(id.project)}
`
        : `      access_key: ${q(id.accessKey)}\n      secret_key: ${q(s.secret_key!)}\n`;
    return `${head(name, 'cbr', endpoint.url, options)}    cbr:
      project_id: ${q(id.projectId)}
${credentials}`;
  },
};

const atlas: ProviderEntry = {
  name: 'atlas',
  async start(options = {}) {
    const secrets = options.secrets ?? knownSecrets('atlas');
    const id = IDENTITIES.atlas;
    // Kept: the simulator reads the service account from this object on every token request.
    const simOptions: AtlasSimulatorOptions = {
      publicKey: id.publicKey,
      privateKey: secrets.private_key!,
      serviceAccount: { clientId: id.clientId, clientSecret: secrets.client_secret! },
      projects: 1,
      clustersPerProject: 3,
      restoresPerCluster: 3,
      clock: dataClock(options),
      faults: options.faults,
    };
    const sim = createAtlasSimulator(simOptions);
    const tokens: string[] = [];
    const knobs: TokenKnobs = {
      expire: () => sim.expireTokens(),
      revoke: () => sim.revokeTokens(),
      revokeCredentials: () => {
        simOptions.serviceAccount = { clientId: id.clientId, clientSecret: `revoked-${randomBytes(9).toString('hex')}` };
        sim.revokeTokens();
      },
      issued: () => sim.tokensIssued(),
    };
    return started('atlas', sim, options, secrets, options.wrongSecrets ?? knownSecrets('atlas', 'wrong'), tokens, knobs);
  },
  target(name, endpoint, options = {}) {
    const s = secretsOf(endpoint, options);
    const id = IDENTITIES.atlas;
    const credentials =
      (options.auth ?? 'digest') === 'client_credentials'
        ? `      client_id: ${q(id.clientId)}\n      client_secret: ${q(s.client_secret!)}\n`
        : `      public_key: ${q(id.publicKey)}\n      private_key: ${q(s.private_key!)}\n`;
    return `${head(name, 'atlas', endpoint.url, options)}    atlas:\n${credentials}`;
  },
};

/** The table: one entry per provider. */
export const PROVIDER_TABLE: Readonly<Record<Provider, ProviderEntry>> = { opsmanager, bluexp, ahsay, cbr, atlas };

/** An exporter.yml with these target blocks. */
export function exporterYaml(targets: readonly string[], global = ''): string {
  return `${global ? `global: ${global}\n` : ''}targets:\n${targets.join('')}`;
}
