import { expect } from "chai";
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { OwnRedis } from "../support/ownRedis";
import { portAnswers, startOwnRedisCluster, type OwnRedisCluster } from "../support/redisCluster";

const run = promisify(execFile);

async function clusterOk(ports: number[]): Promise<boolean> {
  const states = await Promise.all(
    ports.map((p) =>
      run("redis-cli", ["-h", "127.0.0.1", "-p", String(p), "cluster", "info"], { timeout: 3000 }).then(
        (r) => r.stdout,
        () => "",
      ),
    ),
  );
  return states.every((s) => s.includes("cluster_state:ok"));
}

describe("test services: ports of their own, stopped only by who started them", function () {
  this.timeout(60_000);
  const clusters: OwnRedisCluster[] = [];
  before(function () {
    if (!OwnRedis.available()) this.skip();
  });
  after(async () => {
    for (const c of clusters) await c.stop();
  });

  it("starts two Redis Clusters at once on different free ports, and stopping one leaves the other running", async () => {
    const [a, b] = await Promise.all([startOwnRedisCluster(), startOwnRedisCluster()]);
    clusters.push(a, b);
    expect(a.ports.filter((p) => b.ports.includes(p))).to.deep.equal([]);
    expect(a.ports).to.not.include(7101);
    expect(await clusterOk(a.ports)).to.equal(true);
    expect(await clusterOk(b.ports)).to.equal(true);
    await a.stop();
    clusters.splice(clusters.indexOf(a), 1);
    expect(await portAnswers(a.ports[0])).to.equal(false);
    expect(await clusterOk(b.ports)).to.equal(true);
  });

  it("leaves running a cluster it did not start (REDIS_CLUSTER_PORTS), even when its own run ends", async () => {
    const theirs = await startOwnRedisCluster();
    clusters.push(theirs);
    const script = [
      'const c = require("./spec/support/redisCluster");',
      "(async () => {",
      "  const why = await c.ensureRedisCluster();",
      "  if (why) throw new Error(why);",
      "  await c.stopRedisCluster();",
      "  console.log(c.REDIS_CLUSTER_URL);",
      "})().catch((e) => { console.error(e); process.exit(1); });",
    ].join("\n");
    const { stdout } = await run(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], {
      cwd: resolve(__dirname, "../.."),
      env: { ...process.env, REDIS_CLUSTER_PORTS: theirs.ports.join(","), REDIS_CLUSTER_URL: "" },
      timeout: 30_000,
    });
    expect(stdout.trim()).to.equal(theirs.url);
    expect(await clusterOk(theirs.ports)).to.equal(true);
  });

  it("gives each extra Redis a free port of its own", async () => {
    const [a, b] = await Promise.all([OwnRedis.startOnFreePort(), OwnRedis.startOnFreePort()]);
    try {
      expect(a.port).to.not.equal(b.port);
      expect(a.port).to.not.equal(6379);
    } finally {
      await a.kill();
      await b.kill();
    }
  });
});
