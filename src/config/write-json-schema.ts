/**
 * Generates exporter.schema.json (JSON Schema draft 2020-12 of exporter.yml as written, for editors)
 * from the zod schema. Run as a script: `npm run schema` (after `npm run build`), or
 * `node dist/config/write-json-schema.js [output-file]`.
 */
import { writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { z } from 'zod';
import { configSchema } from './schema';

export const JSON_SCHEMA_FILE = 'exporter.schema.json';

/** The JSON Schema of exporter.yml (input side: durations are strings, defaults as written). */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
}

/** The exact text of exporter.schema.json. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

export function writeConfigJsonSchema(file: string): void {
  writeFileSync(file, configJsonSchemaText());
}

if (require.main === module) {
  // dist/config/ or src/config/ -> project root
  const file = process.argv[2] ?? nodePath.resolve(__dirname, '..', '..', JSON_SCHEMA_FILE);
  writeConfigJsonSchema(file);
  console.log(`wrote ${file}`);
}
