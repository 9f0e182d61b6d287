// The spec reporter, plus one closing line "N passed, M failed, K skipped" with the real counts,
// which CI reads (mocha's own summary is not read there).
const Mocha = require("mocha");

const { EVENT_RUN_END, EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    runner.on(EVENT_TEST_PASS, () => (passed += 1));
    runner.on(EVENT_TEST_FAIL, () => (failed += 1)); // hook failures count as failures too
    runner.on(EVENT_TEST_PENDING, () => (skipped += 1));
    runner.once(EVENT_RUN_END, () => {
      process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    });
  }
}

module.exports = SummaryReporter;
