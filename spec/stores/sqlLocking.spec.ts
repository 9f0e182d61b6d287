import { expect } from "chai";
import KeyvPostgres from "@keyv/postgres";
import { SqlKeyvTable } from "../../src/stores/sql/SqlKeyvTable";

const POSTGRES_URL = process.env.POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/test";

/** A deterministic generator, so that a failing run can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

describe("SQL store: concurrent writes and deletes of overlapping keys (postgres)", function () {
  this.timeout(60_000);
  const tableName = `ccp_locking_${process.pid}`;
  let adapter: InstanceType<typeof KeyvPostgres>;
  let table: SqlKeyvTable;

  before(async () => {
    adapter = new KeyvPostgres({ uri: POSTGRES_URL, table: tableName });
    table = SqlKeyvTable.of(adapter)!;
    expect(table.dialect).to.equal("postgres");
  });
  after(async () => {
    await adapter.query(`DROP TABLE IF EXISTS ${tableName}`);
    await adapter.disconnect();
  });

  it("never fails with a deadlock, whatever order the keys come in", async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `ns:=k${String(i).padStart(2, "0")}`);
    const next = random(20261202);
    const pick = () => keys.filter(() => next() < 0.5).sort(() => next() - 0.5);
    const value = (expires: number) => JSON.stringify({ value: "x", expires });
    const failures: unknown[] = [];
    const worker = async () => {
      for (let round = 0; round < 25; round += 1) {
        const subset = pick();
        const op = next() < 0.5 ? table.upsertGrowing(subset.map((key) => ({ key, value: value(Date.now() + 60_000 + round) }))) : table.deleteKeys(subset);
        await op.catch((error) => failures.push(error));
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(failures.map((e) => (e as Error).message)).to.deep.equal([]);
  });
});
