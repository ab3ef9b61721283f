// Validates an OpenAPI document (a file) against the official OpenAPI 3.1 schema with
// @seriousme/openapi-schema-validator (pinned in package-lock.json), an implementation
// independent of the server's generator. Exit 0 when valid; else the errors, and exit 1.
//   node validate.mjs FILE
import { Validator } from "@seriousme/openapi-schema-validator";

const file = process.argv[2];
if (!file) {
  console.error("usage: node validate.mjs FILE");
  process.exit(2);
}
const validator = new Validator();
const res = await validator.validate(file);
if (!res.valid) {
  console.error(`${file}: not a valid OpenAPI document`);
  console.error(JSON.stringify(res.errors, null, 2));
  process.exit(1);
}
if (validator.version !== "3.1") {
  console.error(`${file}: OpenAPI ${validator.version}, expected 3.1`);
  process.exit(1);
}
console.log(`${file}: valid OpenAPI ${validator.version}`);
