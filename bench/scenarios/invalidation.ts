import type { BenchContext } from "../context";
import { configureCachePage, getCacheBackend, invalidateTag, resetCachePageConfig, versioned, type BaseCacheBackend } from "../../src";
import type { RedisProbe, SlowlogEntry } from "../redisProbe";
import { fmt, fmtBytes, fmtInt, fmtMs, fmtRatio, median, msSince } from "../stats";
import { met, type ResultRow, type ScenarioReport } from "../types";

interface TagRef {
  name: string;
  versioned: boolean;
  versionTimeout: number;
}

const RESPONSE = { status: 200, headers: {}, body: Buffer.from("x") };

/**
 * Writes `count` entries under `tag` through the backend API (`set`), `concurrency` at a time,
 * until `deadline` (ms epoch). The versions are read once with `lookup` and handed to every
 * `set` as its token, as a real miss does. Returns how many were written.
 */
async function fill(
  backend: BaseCacheBackend,
  tag: TagRef,
  count: number,
  keyPrefix: string,
  deadline: number,
  concurrency = 256,
): Promise<{ filled: number; seconds: number }> {
  const { token } = await backend.lookup(`${keyPrefix}probe`, [tag]);
  const started = process.hrtime.bigint();
  let next = 0;
  let filled = 0;
  const worker = async () => {
    while (next < count && Date.now() < deadline) {
      const i = next++;
      await backend.set({ key: `${keyPrefix}${i}`, response: RESPONSE, timeout: 600, surrogateKeys: [tag.name], tags: [tag], metadata: {}, token });
      filled++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { filled, seconds: msSince(started) / 1000 };
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return msSince(started);
}

function describeSlowest(entries: SlowlogEntry[], n = 3): string {
  return [...entries]
    .sort((a, b) => b.micros - a.micros)
    .slice(0, n)
    .map((e) => `${e.args[0]?.toUpperCase()} ${fmt(e.micros / 1000, 3)} ms`)
    .join(", ");
}

/**
 * Scenarios 4 and 5, on Redis, from this process (no HTTP involved): O(1) versioned invalidation
 * with many entries against few, and a plain tag with 100,000 entries (total time, longest Redis
 * command from SLOWLOG, against a raw UNLINK baseline), plus the index's bytes per membership.
 */
export async function runInvalidationScenarios(
  ctx: BenchContext,
  probe: RedisProbe,
): Promise<{ versioned: ScenarioReport; plain: ScenarioReport; redisIndexBytes?: { perMembership: number; perEntry: number; memberLength: number } }> {
  const ns = ctx.namespace;
  configureCachePage({ backends: { default: { backend: "keyv", options: { store: ctx.redisUrl, namespace: ns } } } });
  const backend = getCacheBackend();
  const vRows: ResultRow[] = [];
  const vNotes: string[] = [];
  const pRows: ResultRow[] = [];
  const pNotes: string[] = [];
  let redisIndexBytes: { perMembership: number; perEntry: number; memberLength: number } | undefined;
  try {
    // ---- 4. versioned tag: N entries vs 10 entries ----
    const bigTarget = ctx.quick ? 100_000 : 1_000_000;
    const fillBudgetMs = ctx.quick ? 30_000 : 150_000;
    const small: TagRef = { name: "bench-versioned-small", versioned: true, versionTimeout: 864000 };
    const big: TagRef = { name: "bench-versioned-big", versioned: true, versionTimeout: 864000 };
    versioned(small.name, small.versionTimeout);
    versioned(big.name, big.versionTimeout);
    await fill(backend, small, 10, ":/v-small/", Date.now() + 60_000);
    ctx.log(`  filling up to ${fmtInt(bigTarget)} entries under a versioned tag (budget ${fillBudgetMs / 1000} s)`);
    const bigFill = await fill(backend, big, bigTarget, ":/v-big/", Date.now() + fillBudgetMs);
    ctx.log(`  filled ${fmtInt(bigFill.filled)} in ${fmt(bigFill.seconds, 1)} s`);
    const reps = ctx.quick ? 15 : 41;
    const smallTimes: number[] = [];
    const bigTimes: number[] = [];
    for (let i = 0; i < 3; i++) {
      await invalidateTag(small.name);
      await invalidateTag(big.name);
    }
    for (let i = 0; i < reps; i++) {
      // Alternate which goes first, so neither always follows the other.
      if (i % 2 === 0) {
        smallTimes.push(await timed(() => invalidateTag(small.name)));
        bigTimes.push(await timed(() => invalidateTag(big.name)));
      } else {
        bigTimes.push(await timed(() => invalidateTag(big.name)));
        smallTimes.push(await timed(() => invalidateTag(small.name)));
      }
    }
    const stale = await backend.lookup(":/v-big/0", [big]);
    const ratio = median(bigTimes.map((t, i) => t / smallTimes[i]));
    vRows.push({
      scenario: `4. Versioned invalidateTag, ${fmtInt(bigFill.filled)} entries vs 10 entries (Redis)`,
      measured: `${fmtMs(median(bigTimes))} (p90 ${fmtMs(percentile90(bigTimes))})`,
      baseline: `${fmtMs(median(smallTimes))} with 10 entries (p90 ${fmtMs(percentile90(smallTimes))})`,
      ratio: fmtRatio(ratio),
      target: "≤ 1.50×",
      met: met(ratio <= 1.5),
    });
    vNotes.push(
      `N measured: **${fmtInt(bigFill.filled)}** entries${bigFill.filled < bigTarget ? ` (the ${fillBudgetMs / 1000} s fill budget ran out before ${fmtInt(bigTarget)})` : ""}, written through \`backend.set\` (256 in flight) in ${fmt(bigFill.seconds, 1)} s (${fmtInt(bigFill.filled / bigFill.seconds)} entries/s).`,
      `${reps} invalidations of each tag, alternating; the ratio is the median of the paired ratios. After them, an entry of the big tag is ${stale.response ? "**still served (stale!)**" : "a miss, as it must be"}.`,
    );

    // ---- 5. plain tag with 100,000 entries ----
    const plainTarget = ctx.quick ? 20_000 : 100_000;
    const plain: TagRef = { name: "bench-plain", versioned: false, versionTimeout: 864000 };
    ctx.log(`  filling ${fmtInt(plainTarget)} entries under a plain tag`);
    const plainFill = await fill(backend, plain, plainTarget, ":/plain/", Date.now() + 120_000);
    const indexKeys = (await probe.scan(`${ns}:index:*`)).filter((k) => k.includes(encodeURIComponent(plain.name)));
    let indexKey: string | undefined;
    let members = 0;
    for (const k of indexKeys) {
      const type = String(await probe.command("TYPE", k));
      const n = type === "zset" ? Number(await probe.command("ZCARD", k)) : type === "set" ? Number(await probe.command("SCARD", k)) : 0;
      if (n > members) {
        members = n;
        indexKey = k;
      }
    }
    if (indexKey) {
      const indexBytes = await probe.memoryUsage(indexKey);
      const sampleMembers = (
        String(await probe.command("TYPE", indexKey)) === "zset"
          ? await probe.command("ZRANGE", indexKey, 0, 99)
          : await probe.command("SRANDMEMBER", indexKey, 100)
      ) as string[];
      const entryKeys = await probe.scan(`${ns}:entries:*plain*`, 100);
      const entryBytes = await Promise.all(entryKeys.slice(0, 100).map((k) => probe.memoryUsage(k)));
      redisIndexBytes = {
        perMembership: indexBytes / members,
        perEntry: entryBytes.reduce((a, b) => a + b, 0) / Math.max(1, entryBytes.length),
        memberLength: sampleMembers.reduce((a, m) => a + m.length, 0) / Math.max(1, sampleMembers.length),
      };
    }
    ctx.log("  invalidating the plain tag (SLOWLOG capturing every command)");
    let deleted = 0;
    let plainMs = 0;
    const slowlog = await probe.captureSlowlog(plainFill.filled * 2, async () => {
      const started = process.hrtime.bigint();
      deleted = await invalidateTag(plain.name);
      plainMs = msSince(started);
    });
    const ours = slowlog.filter((e) => e.args.some((a) => a.includes(`${ns}:`)));
    const longest = ours.reduce((m, e) => Math.max(m, e.micros), 0) / 1000;

    // Baseline: the same number of keys deleted straight with UNLINK, 500 per command, one command after the other.
    const rawKeys = Array.from({ length: plainFill.filled }, (_, i) => `${ns}:raw:${i}`);
    for (let i = 0; i < rawKeys.length; i += 1000) await Promise.all(rawKeys.slice(i, i + 1000).map((k) => probe.command("SET", k, "x", "EX", 600)));
    let rawMs = 0;
    const rawSlowlog = await probe.captureSlowlog(rawKeys.length / 500 + 10, async () => {
      const started = process.hrtime.bigint();
      for (let i = 0; i < rawKeys.length; i += 500) await probe.command("UNLINK", ...rawKeys.slice(i, i + 500));
      rawMs = msSince(started);
    });
    const rawLongest = rawSlowlog.filter((e) => e.args.some((a) => a.includes(`${ns}:raw:`))).reduce((m, e) => Math.max(m, e.micros), 0) / 1000;

    pRows.push({
      scenario: `5a. Plain invalidateTag, ${fmtInt(plainFill.filled)} entries (Redis): total time`,
      measured: fmtMs(plainMs),
      baseline: `${fmtMs(rawMs)} (bare UNLINK of as many keys, 500 per command, sequential)`,
      ratio: fmtRatio(plainMs / rawMs),
      target: "≤ 2 s",
      met: met(plainMs <= 2000 && deleted === plainFill.filled),
    });
    pRows.push({
      scenario: "5b. Plain invalidateTag: longest single Redis command (SLOWLOG)",
      measured: `${fmtMs(longest)} (${describeSlowest(ours)})`,
      baseline: `${fmtMs(rawLongest)} (longest UNLINK of 500 keys in the baseline)`,
      ratio: fmtRatio(longest / rawLongest),
      target: "none > 50 ms",
      met: met(ours.length > 0 && longest <= 50),
    });
    pNotes.push(
      `${fmtInt(plainFill.filled)} entries written through \`backend.set\` in ${fmt(plainFill.seconds, 1)} s; the tag's index ${indexKey ? `(\`${indexKey}\`) held ${fmtInt(members)} members` : "was not found by SCAN"}. \`invalidateTag\` returned ${fmtInt(deleted)}${deleted === plainFill.filled ? " (all of them)" : ` — **expected ${fmtInt(plainFill.filled)}**`}.`,
      `SLOWLOG: \`slowlog-log-slower-than 0\` and a long enough \`slowlog-max-len\` only while the invalidation ran, both restored right after; ${fmtInt(ours.length)} commands on bench keys were logged (${byName(ours)}; ${fmtInt(slowlog.length - ours.length)} from other clients ignored). SLOWLOG times are Redis execution times, without network.`,
    );
    if (redisIndexBytes) {
      pNotes.push(
        `Index size on Redis: \`MEMORY USAGE\` of the tag's index / members = ${fmtBytes(redisIndexBytes.perMembership)} per membership (members are ${fmt(redisIndexBytes.memberLength, 0)} characters long), against ${fmtBytes(redisIndexBytes.perEntry)} per entry key (1-byte body; mean of 100 sampled).`,
      );
    }
  } finally {
    await resetCachePageConfig();
  }
  return {
    versioned: { id: "versioned", title: "4. Versioned invalidation (Redis)", rows: vRows, notes: vNotes },
    plain: { id: "plain", title: "5. Plain tag with many entries (Redis)", rows: pRows, notes: pNotes },
    redisIndexBytes,
  };
}

/** `UNLINK 100,000, ZPOPMIN 200` */
function byName(entries: SlowlogEntry[]): string {
  const counts = new Map<string, number>();
  for (const e of entries) counts.set(e.args[0]?.toUpperCase() ?? "?", (counts.get(e.args[0]?.toUpperCase() ?? "?") ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${fmtInt(n)}`)
    .join(", ");
}

function percentile90(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.9) - 1)];
}
