// `npm test` runs every spec; `SPEC="spec/http/*.spec.ts" npm test` (comma-separated globs) runs some.
module.exports = {
  require: ["ts-node/register/transpile-only", "reflect-metadata", "spec/support/setup.ts"],
  extension: ["ts"],
  spec: process.env.SPEC ? process.env.SPEC.split(",") : ["spec/**/*.spec.ts"],
  timeout: 20000,
  exit: true,
  reporter: "spec/support/summaryReporter.js",
};
