// The Varnish starter ships in custom-cache-page/testing (src/testing/varnish.ts); only the mocha-specific skip lives here.
import { startVarnish, type VarnishInstance } from "../../src/testing/varnish";

export { findVarnishd, startVarnish, vclWithBackend, VARNISH_VCL_PATH as EXAMPLE_VCL, type VarnishInstance } from "../../src/testing/varnish";

/**
 * For a `before` hook: starts Varnish, or, when it cannot, fails the suite if the `CI` variable is
 * set (CI must run these tests) and skips it with the reason printed otherwise.
 *
 * @example
 * before(async function () { varnish = await startVarnishOrSkip(this, { backendPort }); });
 */
export async function startVarnishOrSkip(context: Mocha.Context, options: Parameters<typeof startVarnish>[0]): Promise<VarnishInstance> {
  try {
    return await startVarnish(options);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (process.env.CI) throw new Error(`Varnish tests cannot run in CI: ${reason}`);
    console.log(`      skipped (Varnish unavailable): ${reason.split("\n")[0]} — set CI=1 to make this a failure`);
    context.skip();
  }
}
