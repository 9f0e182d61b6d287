// The fake CDN APIs ship in custom-cache-page/testing (src/testing/fakeCdnApis.ts).
export { FakeCdnApi, startFakeCloudflare, startFakeFastly, type FakeReply, type ReceivedPurge } from "../../src/testing/fakeCdnApis";
