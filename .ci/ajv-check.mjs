// Compiles the suite schema with ajv in strict mode (what many editors and CI linters use):
// unknown keywords or formats, or a schema that is not valid draft-07, fail the check.
// Usage: node .ci/ajv-check.mjs AJV_DIR SCHEMA
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

const [ajvDir, schemaPath] = process.argv.slice(2);
const require = createRequire(resolve(ajvDir, "package.json"));
const Ajv = require("ajv");
const ajv = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true });
const schema = JSON.parse(readFileSync(schemaPath, "utf8"));
try {
  ajv.compile(schema);
  console.log(`ajv (strict): ${schemaPath} compiles`);
} catch (e) {
  console.error(`ajv (strict) refuses ${schemaPath}: ${e.message}`);
  process.exit(1);
}
