import { expect } from "chai";
import { Keyv } from "keyv";
import { tagPart } from "../../src/stores/keyParts";
import { MemoryStore } from "../../src/stores/memory/MemoryStore";
import { openStoreDriver } from "../../src/stores/openStoreDriver";
import type { StoreDriver } from "../../src/stores/StoreDriver";
import { REDIS_URL, requireStore, STORE_CASES, uniqueNamespace, type StoreName } from "../support/stores";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A Keyv adapter the cache knows nothing about: the generic driver, with no capabilities. */
class PlainAdapter {
  readonly data = new Map<string, unknown>();
  namespace?: string;
  on() {
    return this;
  }
  async get(key: string) {
    return this.data.get(key);
  }
  async set(key: string, value: unknown) {
    this.data.set(key, value);
  }
  async delete(key: string) {
    return this.data.delete(key);
  }
  async clear() {
    this.data.clear();
  }
}

type Capability = "writeVersion" | "acquireLock" | "deleteEntries" | "createTagIndex" | "pruneStep" | "peek";

interface Target {
  label: string;
  requires?: StoreName;
  /** What the driver of this store kind offers; the core falls back for the rest. */
  capabilities: Capability[];
  open(namespace: string): StoreDriver;
}

const NETWORK: Capability[] = ["writeVersion", "acquireLock", "deleteEntries", "createTagIndex"];
const TARGETS: Target[] = [
  {
    label: "bounded memory (MemoryStore)",
    capabilities: ["writeVersion", "acquireLock", "deleteEntries", "createTagIndex", "peek"],
    open: (ns) => openStoreDriver(new MemoryStore({ maxBytes: 1024 * 1024 }), ns),
  },
  {
    label: "a plain Map",
    capabilities: ["writeVersion", "acquireLock", "deleteEntries", "createTagIndex", "peek", "pruneStep"],
    open: (ns) => openStoreDriver(new Map(), ns),
  },
  ...STORE_CASES.filter((c) => c.name !== "memory").map((c) => ({
    label: c.name,
    requires: c.name,
    capabilities: c.name === "sqlite" || c.name === "postgres" ? [...NETWORK, "pruneStep" as const] : NETWORK,
    open: (ns: string) => openStoreDriver(c.store(), ns),
  })),
  { label: "another Keyv adapter", capabilities: [], open: (ns) => openStoreDriver(new Keyv({ store: new PlainAdapter() as never }), ns) },
];

/**
 * What every store driver promises, whatever capabilities it has: the three namespaces work, and
 * each optional capability it declares behaves the same on every store.
 */
for (const target of TARGETS) {
  describe(`store driver contract: ${target.label}`, function () {
    this.timeout(20000);
    if (target.requires) requireStore(target.requires);
    let driver: StoreDriver;
    beforeEach(async () => {
      driver = target.open(uniqueNamespace("contract"));
      await driver.ready();
    });
    afterEach(() => driver.close());

    const has = (capability: Capability) => target.capabilities.includes(capability);

    it(`offers ${target.capabilities.join(", ") || "no optional capability"}`, () => {
      for (const capability of ["writeVersion", "acquireLock", "deleteEntries", "createTagIndex", "pruneStep", "peek"] as Capability[]) {
        expect(typeof driver[capability] === "function", capability).to.equal(has(capability));
      }
    });

    it("keeps the three namespaces apart", async () => {
      await driver.entries.set("=k", "entry", 60_000);
      await driver.index.set("=k", "index", 60_000);
      await driver.versions.set("=k", 7, 60_000);
      expect([await driver.entries.get("=k"), await driver.index.get("=k"), await driver.versions.get("=k")]).to.deep.equal(["entry", "index", 7]);
    });

    if (has("writeVersion"))
      it("writeVersion: ensure returns the live version, bump moves above it, a mark once written stays", async () => {
        if (!driver.writeVersion) throw new Error("no writeVersion");
        const part = tagPart(`t-${Date.now()}`);
        const created = await driver.writeVersion(part, { mode: "ensure", ttlMs: 60_000, versioned: false });
        expect(created.versioned).to.equal(false);
        expect((await driver.writeVersion(part, { mode: "ensure", ttlMs: 60_000, versioned: false })).version).to.equal(created.version);
        const marked = await driver.writeVersion(part, { mode: "ensure", ttlMs: 1000, versioned: true });
        expect({ version: marked.version, versioned: marked.versioned }).to.deep.equal({ version: created.version, versioned: true });
        // Every built-in driver reports the key's expiry: what the key holds, never shortened by the 1 s asked here.
        const recorded = ((await driver.versions.get(part, { raw: true })) as { expires: number }).expires;
        expect(marked.expiresAt, "the expiry reported is the one recorded").to.equal(recorded);
        expect(marked.expiresAt).to.be.at.least(created.expiresAt!);
        const bumped = await driver.writeVersion(part, { mode: "bump", ttlMs: 1000, versioned: false });
        expect(bumped.version).to.be.above(created.version);
        expect(bumped.versioned, "the mark is kept by a write that does not know it").to.equal(true);
        expect(await driver.versions.get(part)).to.equal(bumped.version);
      });

    if (has("writeVersion"))
      it("writeVersion: a key's expiry grows and never shrinks, and an expired key restarts above its last version", async () => {
        if (!driver.writeVersion) throw new Error("no writeVersion");
        const part = tagPart(`e-${Date.now()}`);
        const expiry = async () => ((await driver.versions.get(part, { raw: true })) as { expires: number }).expires;
        await driver.writeVersion(part, { mode: "ensure", ttlMs: 100_000, versioned: false });
        const long = await expiry();
        await driver.writeVersion(part, { mode: "ensure", ttlMs: 1000, versioned: false });
        expect(await expiry()).to.equal(long);
        const short = tagPart(`s-${Date.now()}`);
        const first = await driver.writeVersion(short, { mode: "ensure", ttlMs: 150, versioned: false });
        await sleep(300);
        const again = await driver.writeVersion(short, { mode: "ensure", ttlMs: 60_000, versioned: false });
        expect(again.version).to.be.above(first.version);
      });

    if (target.label === "sqlite" || target.label === "postgres")
      it("ensureVersions: several ensure writes in one statement, each as writeVersion would do it", async () => {
        if (!driver.ensureVersions || !driver.writeVersion) throw new Error("no ensureVersions");
        const stamp = Date.now();
        const [live, expired, fresh] = [`b-live-${stamp}`, `b-exp-${stamp}`, `b-new-${stamp}`].map((t) => tagPart(t));
        const kept = await driver.writeVersion(live, { mode: "ensure", ttlMs: 100_000, versioned: true });
        const gone = await driver.writeVersion(expired, { mode: "ensure", ttlMs: 100, versioned: false });
        await sleep(250);
        const written = await driver.ensureVersions([
          { part: fresh, ttlMs: 60_000, versioned: false },
          { part: live, ttlMs: 1000, versioned: false },
          { part: expired, ttlMs: 60_000, versioned: false },
          { part: fresh, ttlMs: 120_000, versioned: true },
        ]);
        expect(written).to.have.length(4);
        expect(written[1], "a live version is kept, its mark and longer expiry too").to.deep.equal({
          version: kept.version,
          versioned: true,
          expiresAt: kept.expiresAt,
        });
        expect(written[2].version, "an expired key restarts above its last version").to.be.above(gone.version);
        expect(written[0]).to.deep.equal(written[3]);
        expect(written[0].versioned, "one part asked twice gets the union of the requests").to.equal(true);
        expect(written[0].expiresAt! - Date.now()).to.be.within(110_000, 120_500);
        for (const [i, part] of [fresh, live, expired].entries()) {
          const raw = (await driver.versions.get(part, { raw: true })) as { value: number; expires: number };
          expect(raw.value).to.equal(written[i === 0 ? 0 : i].version);
          expect(raw.expires).to.equal(written[i === 0 ? 0 : i].expiresAt);
        }
        expect((await driver.writeVersion(fresh, { mode: "ensure", ttlMs: 1, versioned: false })).version, "Keyv and writeVersion read what it wrote").to.equal(
          written[0].version,
        );
      });

    if (has("acquireLock"))
      it("locks: one holder at a time, freed by its token or by expiry", async () => {
        if (!driver.acquireLock || !driver.releaseLock) throw new Error("no locks");
        const tokens = await Promise.all(Array.from({ length: 6 }, () => driver.acquireLock!("!lock", 10_000)));
        expect(tokens.filter((t) => typeof t === "string")).to.have.length(1);
        await driver.releaseLock("!lock", "wrong");
        expect(await driver.acquireLock("!lock", 200)).to.equal(null);
        await driver.releaseLock("!lock", tokens.find((t) => typeof t === "string")!);
        expect(await driver.acquireLock("!lock", 150)).to.be.a("string");
        await sleep(300);
        expect(await driver.acquireLock("!lock", 150)).to.be.a("string");
      });

    if (has("deleteEntries"))
      it("deleteEntries deletes the given entries and says how many existed", async () => {
        if (!driver.deleteEntries) throw new Error("no deleteEntries");
        await Promise.all(["=a", "=b", "=c"].map((p) => driver.entries.set(p, p, 60_000)));
        expect(await driver.deleteEntries(["=a", "=b", "=missing"])).to.equal(2);
        expect(await driver.entries.get("=a")).to.equal(undefined);
        expect(await driver.entries.get("=c")).to.equal("=c");
      });

    if (has("createTagIndex"))
      it("a native tag index loses no concurrent add and drains every member in bounded batches", async () => {
        const index = driver.createTagIndex?.(50);
        if (!index) throw new Error("no native index");
        await Promise.all(Array.from({ length: 200 }, (_, i) => index.add("shared", [`=:/m${i}`], 60)));
        expect(new Set(await index.getKeys("shared")).size).to.equal(200);
        const batches: number[] = [];
        await index.drain("shared", async (members) => void batches.push(members.length));
        expect(batches.reduce((a, b) => a + b, 0)).to.equal(200);
        expect(Math.max(...batches)).to.be.at.most(50);
        expect(await index.getKeys("shared")).to.deep.equal([]);
      });

    if (has("pruneStep"))
      it("pruneStep removes expired rows in bounded steps and keeps live ones", async () => {
        if (!driver.pruneStep) throw new Error("no pruneStep");
        await Promise.all(Array.from({ length: 30 }, (_, i) => driver.entries.set(`=old${i}`, "x", 50)));
        await driver.entries.set("=live", "live", 60_000);
        await sleep(150);
        driver.restartPrune?.();
        let deleted = 0;
        for (let i = 0; i < 100; i++) {
          const step = await driver.pruneStep(8);
          deleted += step.deleted;
          if (step.passDone) break;
        }
        expect(deleted).to.be.at.least(30);
        expect(await driver.entries.get("=live")).to.equal("live");
      });

    if (has("peek"))
      it("peek reads a live value synchronously and an expired one as nothing", async () => {
        await driver.entries.set("=p", "peeked", 60_000);
        await driver.entries.set("=gone", "gone", 20);
        await sleep(60);
        expect(driver.peek?.("entries", "=p")).to.equal("peeked");
        expect(driver.peek?.("entries", "=gone")).to.equal(undefined);
      });

    it("classifies an unreachable store as a health failure", () => {
      const refused = Object.assign(new Error(`connect ECONNREFUSED ${REDIS_URL}`), { code: "ECONNREFUSED" });
      if (driver.isHealthFailure) expect(driver.isHealthFailure(refused)).to.equal(true);
    });
  });
}
