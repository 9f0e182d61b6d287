#!/usr/bin/env bash
# Installs a packed custom-cache-page tarball into a fresh app in a temp dir, with only the peers an
# app on the in-memory store needs, compiles app.ts with tsc and runs it (one cached request).
# Usage: bash .ci/scratch-app/run.sh path/to/custom-cache-page-x.y.z.tgz
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
tarball="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
dir="$(mktemp -d "${TMPDIR:-/tmp}/ccp-scratch-XXXXXX")"
trap 'rm -rf "$dir"' EXIT

# The same versions as this repository's lock file, so the check does not drift with the registry.
version() { node -p "require('$root/node_modules/$1/package.json').version"; }
cp "$here/app.ts" "$here/tsconfig.json" "$dir/"
cd "$dir"
cat > package.json <<JSON
{ "name": "ccp-scratch-app", "private": true, "type": "commonjs" }
JSON
npm install --no-audit --no-fund --prefer-offline --loglevel=error \
  "$tarball" \
  "routing-controllers@$(version routing-controllers)" "typedi@$(version typedi)" "reflect-metadata@$(version reflect-metadata)" \
  "class-validator@$(version class-validator)" "keyv@$(version keyv)" "express@$(version express)" \
  "typescript@$(version typescript)" "@types/node@$(version @types/node)" "@types/express@$(version @types/express)"
npx tsc -p tsconfig.json
node dist/app.js
# Only the entry points are importable.
node -e '
for (const deep of ["custom-cache-page/dist/engine/requestFlow", "custom-cache-page/src/index", "custom-cache-page/dist/index.js"]) {
  try { require.resolve(deep); console.error(`${deep} should not resolve`); process.exit(1); }
  catch (error) { if (error.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw error; }
}
for (const entry of ["custom-cache-page", "custom-cache-page/cdn", "custom-cache-page/testing", "custom-cache-page/prometheus", "custom-cache-page/opentelemetry", "custom-cache-page/package.json"]) require.resolve(entry);
console.log("scratch app: only the entry points resolve");'
