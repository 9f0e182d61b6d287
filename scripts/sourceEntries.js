// Lets in-repo code (examples, doc snippets) import "custom-cache-page" like an app does, running
// the TypeScript sources instead of dist/. tsconfig.json maps the same specifiers for the type
// checker ("paths"); this maps them at run time for ts-node (loaded through tsconfig's "ts-node.require").
// Only the package's entry points are mapped: anything else stays unimportable, as from the tarball.
const Module = require("node:module");
const path = require("node:path");

const SRC = path.join(__dirname, "..", "src");
const ENTRIES = {
  "custom-cache-page": "index.ts",
  "custom-cache-page/cdn": "cdn.ts",
  "custom-cache-page/testing": "testing.ts",
  "custom-cache-page/prometheus": "prometheus.ts",
  "custom-cache-page/opentelemetry": "opentelemetry.ts",
};

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function resolveSourceEntry(request, ...rest) {
  const entry = ENTRIES[request];
  return resolveFilename.call(this, entry ? path.join(SRC, entry) : request, ...rest);
};
