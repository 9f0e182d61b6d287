// Summarises one cache-tests run (the JSON the suite's CLI prints) the way cache-tests.fyi scores
// it, using the suite's own definitions and verdict function from the checkout (never copied here).
//
//   node summarize.mjs <suite dir> <results.json> [seconds the run took]
//
// A test is REQUIRED when its `kind` is "required" or absent (the suite's rule); browser_only tests
// are not run by the CLI and not counted. "Passed" honours `depends_on`, as cache-tests.fyi does: a
// test whose dependency did not pass counts as failed (⚪️), whatever it did itself. The count that
// ignores dependencies is printed beside it, and so is the count with `freshness-none` taken as
// passed: that "check" asks whether a response without freshness of its own is left unstored, which
// SPEC §8 answers no (such a response is kept for `timeout`), and 133 of the 160 depend on it.
import { readFileSync, readdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [suiteArg, resultsFile, seconds] = process.argv.slice(2);
if (!suiteArg || !resultsFile) {
  console.error("usage: node summarize.mjs <cache-tests dir> <results.json> [seconds]");
  process.exit(2);
}
const suite = resolve(suiteArg);
const load = (rel) => import(pathToFileURL(join(suite, rel)).href);

const { default: testSuites } = await load("tests/index.mjs");
const { determineTestResult, resultTypes } = await load("test-engine/lib/results.mjs");
const results = JSON.parse(readFileSync(resultsFile, "utf8"));

// Which tests/*.mjs file defines each group (the suite's index imports them under other names).
const fileOf = new Map();
for (const name of readdirSync(join(suite, "tests")).filter((f) => f.endsWith(".mjs") && f !== "index.mjs")) {
  const { default: group } = await load(`tests/${name}`);
  if (group?.id) fileOf.set(group.id, `tests/${name}`);
}

let commit = "";
try {
  commit = execFileSync("git", ["-C", suite, "rev-parse", "--short", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
} catch {}

const label = new Map([
  [resultTypes.pass, "pass"],
  [resultTypes.fail, "FAIL"],
  [resultTypes.optional_fail, "optional-fail"],
  [resultTypes.yes, "yes"],
  [resultTypes.no, "no"],
  [resultTypes.setup_fail, "SETUP-FAIL"],
  [resultTypes.harness_fail, "HARNESS-FAIL"],
  [resultTypes.dependency_fail, "DEPENDENCY"],
  [resultTypes.retry, "RETRY"],
  [resultTypes.untested, "NOT-RUN"],
]);
const verdict = (id, honour) => label.get(determineTestResult(testSuites, id, results, honour)) ?? "?";
const kindOf = (test) => test.kind ?? "required";
const byId = new Map(testSuites.flatMap((s) => s.tests.map((t) => [t.id, t])));

const DEFAULT_CACHING_CHECK = "freshness-none";
const resultsIfStoredOnlyWithFreshness = { ...results, [DEFAULT_CACHING_CHECK]: true };
const counts = { required: [0, 0, 0, 0], optimal: [0, 0], check: [0, 0] };
const failingGroups = [];
for (const group of testSuites) {
  const failing = [];
  for (const test of group.tests) {
    if (test.browser_only) continue;
    const kind = kindOf(test);
    if (kind === "required") {
      counts.required[1] += 1;
      const v = verdict(test.id, true);
      if (v === "pass") counts.required[0] += 1;
      if (verdict(test.id, false) === "pass") counts.required[2] += 1;
      if (determineTestResult(testSuites, test.id, resultsIfStoredOnlyWithFreshness, true) === resultTypes.pass) counts.required[3] += 1;
      if (v !== "pass") failing.push(test);
    } else {
      counts[kind][1] += 1;
      if (results[test.id] === true) counts[kind][0] += 1;
    }
  }
  if (failing.length) failingGroups.push({ group, failing });
}

const why = (test) => {
  const own = results[test.id];
  const ownText = own === undefined ? "not run" : own === true ? "passed on its own" : `${own[0]}: ${own[1]}`;
  const v = verdict(test.id, true);
  if (v !== "DEPENDENCY") return ownText;
  const blockers = (test.depends_on ?? []).filter((d) => verdict(d, true) !== "pass" && verdict(d, true) !== "yes");
  const shown = blockers.map((d) => `${d} (${kindOf(byId.get(d))}: ${verdict(d, true)})`).join(", ");
  return `needs ${shown}; itself: ${ownText}`;
};

const [passed, total, rawPassed, passedButDefaultCaching] = counts.required;
const timeout = process.env.CACHE_TIMEOUT ?? "3600";
console.log(`cache-tests conformance of custom-cache-page (bench/conformance/app.ts, @CachePage timeout ${timeout}, Express 4)`);
console.log(`suite: ${suite}${commit ? ` @ ${commit}` : ""}; ${Object.keys(results).length} tests run${seconds ? ` in ${seconds}s` : ""}`);
console.log("");
console.log(`REQUIRED: ${passed} of ${total} passed   (cache-tests.fyi scoring: a test whose depends_on did not pass is a failure)`);
console.log(`          ${rawPassed} of ${total} passed on their own, ignoring depends_on`);
console.log(
  `          ${passedButDefaultCaching} of ${total} passed honouring depends_on but taking the ${DEFAULT_CACHING_CHECK} check (${verdict(DEFAULT_CACHING_CHECK, true)} here) as passed`,
);
console.log(`optimal:  ${counts.optimal[0]} of ${counts.optimal[1]} passed;  check: ${counts.check[0]} of ${counts.check[1]} answered yes`);
const tally = {};
for (const { failing } of failingGroups) for (const t of failing) tally[verdict(t.id, true)] = (tally[verdict(t.id, true)] ?? 0) + 1;
console.log(
  `failing required by verdict: ${
    Object.entries(tally)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ") || "none"
  }`,
);
console.log("");
console.log(`Failing REQUIRED tests by group (${total - passed}):`);
for (const { group, failing } of failingGroups) {
  console.log("");
  console.log(`[${group.id}] ${group.name} — ${fileOf.get(group.id) ?? "?"} (${failing.length})`);
  const width = Math.max(...failing.map((t) => t.id.length));
  for (const test of failing) {
    console.log(`  ${test.id.padEnd(width)}  ${verdict(test.id, true).padEnd(12)} ${why(test)}`);
  }
}
