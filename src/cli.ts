/** Command-line flags, Prometheus style (`--config.file=x` or `--config.file x`). */
import { parseListenAddress } from './listen-address';

export interface Flags {
  configFile: string;
  webConfigFile?: string;
  configCheck: boolean;
  listenAddress: string;
  logLevel: string;
  enableLifecycle: boolean;
  hideConfig: boolean;
  version: boolean;
  help: boolean;
}

export const USAGE = `usage: backup-exporter [flags]

  --config.file=PATH          configuration file (default exporter.yml)
  --config.check              validate the configuration file, print the result and exit 0 (valid) or 1
  --web.listen-address=ADDR   address to serve on, [host]:port (default :9877)
  --web.config.file=PATH      TLS and basic authentication for the exporter's endpoint, in the
                              Prometheus exporter toolkit's web configuration format
  --web.enable-lifecycle      answer POST /-/reload (off by default; SIGHUP always reloads)
  --web.hide-config           answer 404 on /config instead of the redacted configuration
  --log.level=LEVEL           debug, info, warn or error (default info)
  --version                   print the version and exit
  --help                      print this text and exit
`;

const VALUE_FLAGS: Record<string, keyof Flags> = {
  'config.file': 'configFile',
  'web.listen-address': 'listenAddress',
  'web.config.file': 'webConfigFile',
  'log.level': 'logLevel',
};
const BOOLEAN_FLAGS: Record<string, keyof Flags> = {
  'config.check': 'configCheck',
  'web.enable-lifecycle': 'enableLifecycle',
  'web.hide-config': 'hideConfig',
  version: 'version',
  help: 'help',
};
const LOG_LEVELS = ['debug', 'info', 'warn', 'error'];

export class UsageError extends Error {}

export function parseFlags(argv: readonly string[]): Flags {
  const flags: Flags = {
    configFile: 'exporter.yml',
    configCheck: false,
    listenAddress: ':9877',
    logLevel: 'info',
    enableLifecycle: false,
    hideConfig: false,
    version: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const match = /^--?([a-z][a-z0-9.-]*)(?:=(.*))?$/s.exec(arg);
    if (!match) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const [, name, inline] = match;
    if (name in BOOLEAN_FLAGS) {
      if (inline !== undefined && !['true', 'false'].includes(inline)) throw new UsageError(`--${name} takes no value other than true or false`);
      (flags[BOOLEAN_FLAGS[name]] as boolean) = inline !== 'false';
    } else if (name in VALUE_FLAGS) {
      const value = inline ?? argv[++i];
      if (value === undefined || value === '') throw new UsageError(`--${name} needs a value`);
      (flags[VALUE_FLAGS[name]] as string) = value;
    } else {
      throw new UsageError(`unknown flag --${name}`);
    }
  }
  if (!LOG_LEVELS.includes(flags.logLevel)) throw new UsageError(`--log.level must be one of ${LOG_LEVELS.join(', ')}`);
  try {
    parseListenAddress(flags.listenAddress);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return flags;
}
