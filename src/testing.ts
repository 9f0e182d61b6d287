/**
 * `custom-cache-page/testing`: what you need to test an app or a backend of your own — a contract
 * suite for custom `BaseCacheBackend`s, fake Fastly and Cloudflare purge APIs, a Varnish starter and
 * helpers that count action calls and assert cache hits. Nothing here is loaded by the root entry.
 *
 * @example
 * import { describe, it } from "mocha";
 * import { expectHit, runBackendContract } from "custom-cache-page/testing";
 */
export { runBackendContract, type BackendContractFramework, type BackendContractOptions, type MakeBackend } from "./testing/backendContract";
export { ActionCallCounter } from "./testing/ActionCallCounter";
export {
  CacheAssertionError,
  cacheOutcomeOf,
  expectBypass,
  expectHit,
  expectMiss,
  type CacheOutcome,
  type ResponseWithHeaders,
} from "./testing/cacheAssertions";
export { FakeCdnApi, startFakeCloudflare, startFakeFastly, type FakeReply, type ReceivedPurge } from "./testing/fakeCdnApis";
export { findVarnishd, startVarnish, vclWithBackend, VARNISH_VCL_PATH, type StartVarnishOptions, type VarnishInstance } from "./testing/varnish";
