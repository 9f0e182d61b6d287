import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect } from "chai";
import { versionedTimeoutOf } from "../../src/backends/tagVersions";
import type { TagRef } from "../../src/backends/types";
import { lookupAndStore, response } from "../backends/stores/helpers";
import { BackendPool, REDIS_URL, requireStore, STORE_CASES, storeCase } from "../support/stores";

const run = promisify(execFile);

/** A versioned tag this process never declares with versioned(): only the store can know it is versioned. */
const undeclared = (name: string): TagRef => ({ name, versioned: true, versionTimeout: 3600 });

for (const sc of STORE_CASES) {
  describe(`versioned-ness recorded in the ${sc.name} store`, function () {
    this.timeout(20000);
    requireStore(sc.name);
    let pool: BackendPool;
    beforeEach(() => (pool = new BackendPool(sc, "vstore")));
    afterEach(() => pool.dispose());

    it("a backend that never stored under a versioned tag invalidates it with the new version, the same answer as the one that did", async () => {
      const tag = undeclared(`vt-undeclared-${sc.name}-${Date.now()}`);
      expect(versionedTimeoutOf(tag.name), "not declared in this process").to.equal(undefined);
      const storing = pool.open();
      const other = pool.open();
      const seen = await lookupAndStore(storing, ":/catalog", [tag], response("catalog"));
      const first = await other.invalidateBySurrogate(tag.name);
      expect(first, "the new version, not a count of deleted entries").to.be.above(seen[tag.name]);
      const second = await storing.invalidateBySurrogate(tag.name);
      expect(second).to.be.above(first);
      expect((await storing.lookup(":/catalog", [tag])).response).to.equal(undefined);
    });

    it("a plain tag still answers with the number of entries deleted", async () => {
      const storing = pool.open();
      await lookupAndStore(storing, ":/p1", [{ name: "plain-count", versioned: false, versionTimeout: 864000 }], response("p"));
      expect(await pool.open().invalidateBySurrogate("plain-count")).to.equal(1);
    });
  });
}

describe("versioned-ness across processes", function () {
  this.timeout(30000);
  requireStore("redis");
  let pool: BackendPool;
  before(() => (pool = new BackendPool(storeCase("redis"), "vproc")));
  after(() => pool.dispose());

  it("a process that never loaded the declaring controllers gets the new version from invalidating the tag", async () => {
    const tag = undeclared(`vt-child-${Date.now()}`);
    const seen = await lookupAndStore(pool.open(), ":/catalog", [tag], response("catalog"));
    const script = `
      const { KeyvCacheBackend } = require("./src/backends/keyv");
      const b = new KeyvCacheBackend({ store: ${JSON.stringify(REDIS_URL)}, namespace: ${JSON.stringify(pool.namespace)} });
      b.invalidateBySurrogate(${JSON.stringify(tag.name)}).then(async (v) => { console.log(String(v)); await b.close(); });`;
    const { stdout } = await run(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { cwd: process.cwd(), timeout: 20000 });
    expect(Number(stdout.trim())).to.be.above(seen[tag.name]);
  });
});
