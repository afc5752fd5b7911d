/**
 * The building blocks of a provider's configuration block: each provider file defines its block with
 * defineProviderBlock() and the field helpers here; config/schema.ts assembles the blocks of every
 * registered provider into the schema of exporter.yml.
 */
import { z } from 'zod';
import { isObject } from '../text';

/**
 * A JSON Schema pattern that also accepts any value containing `${`: editors check the file as
 * written, and such a value is only known after ${ENV_VAR} expansion.
 */
export function patternOrEnv(pattern: string): string {
  return `(?:${pattern})|\\$\\{`;
}

/** Refinements that must run even when other fields of the same object are invalid (all problems at once). */
export const ALWAYS = { when: () => true } as const;

/**
 * An integer in [min, max]. Not z.int(): its "not an integer" issue aborts the whole parse, which
 * would hide the cross-field problems (duplicate names, ...) that are reported together with it.
 */
export function integer(min: number, max: number) {
  return z
    .number()
    .refine(Number.isInteger, { message: 'must be an integer' })
    .min(min)
    .max(max)
    .meta({ type: 'integer' });
}

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
  N extends Record<string, ProviderBlock> = Record<never, ProviderBlock>,
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
      if (!isObject(parsed)) return;
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

export interface ProviderBlock {
  schema: z.ZodType;
  secrets: Record<string, SecretSpec>;
  /** Where the block's secrets are, its own and its sub-blocks' (e.g. ["iam", "password"]). */
  secretPaths: ReadonlyArray<readonly string[]>;
}

/** At most one of the groups of fields may be set, and with `required`, exactly one. */
export function oneOf(groups: Array<{ name: string; fields: string[] }>, required: boolean) {
  return (block: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const present = groups.filter((g) => g.fields.some((f) => block[f] !== undefined));
    const names = groups.map((g) => g.name).join(' or ');
    if (present.length > 1) ctx.addIssue({ code: 'custom', path: [], message: `set either ${names}, not both` });
    else if (required && present.length === 0) ctx.addIssue({ code: 'custom', path: [], message: `one of ${names} is required` });
  };
}

/** `field` (an identity: key id, client id) is required when the secret `secret` (or its *_file twin) is set. */
export function requiredWithSecret(field: string, secret: string) {
  return (block: Record<string, unknown>, ctx: z.RefinementCtx) => {
    if ((block[secret] !== undefined || block[`${secret}_file`] !== undefined) && block[field] === undefined) {
      ctx.addIssue({ code: 'custom', path: [field], message: `required with ${secret}` });
    }
  };
}

export const nonEmpty = (description: string) => z.string().min(1).describe(description);

/** An http(s) URL field of a provider block (token endpoints); never echoed in messages. */
export function httpUrl(description: string) {
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

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}


type RequiredSecrets<Sec> = Extract<{ [K in keyof Sec]: Sec[K] extends { required: true } ? K : never }[keyof Sec], string>;

/**
 * A provider block as a provider receives it: validated, defaults applied, required secrets resolved
 * to their values (`<name>_file` holds the absolute path of the file it came from, if one was used).
 */
export type ResolvedBlock<B extends ProviderBlock> = Omit<z.output<B['schema']>, RequiredSecrets<B['secrets']>> & {
  [K in RequiredSecrets<B['secrets']>]: string;
};
