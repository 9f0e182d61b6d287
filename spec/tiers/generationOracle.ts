import { createClient } from "@keyv/redis";
import { type InstanceResponse, now, type TierInstance } from "../support/tierInstances";

const openOracleClient = (url: string) => createClient({ url });
type OracleClient = ReturnType<typeof openOracleClient>;

/** One invalidation the oracle ran: the generation it bumped to, and when it was called and resolved. */
export interface InvalidationRecord {
  by: string;
  tag: string;
  /** The generation `<ns>:gen` was INCRed to just before the call (0 for tags other than "gen"). */
  gen: number;
  calledAt: number;
  resolvedAt: number;
  status: number;
  ok: boolean;
  body: any;
}

/**
 * The invariant of SPEC §3 in generations: before each invalidation of "gen" the oracle INCRs
 * `<ns>:gen` directly on Redis, then asks an instance to `invalidateTag("gen")`. Once that resolved
 * with generation g, any page read that started afterwards must carry `gen >= g`: a smaller one
 * was computed before the call, so serving it is a stale response.
 *
 * @example
 * const oracle = await GenerationOracle.open(REDIS_URL, namespace);
 * await oracle.invalidate(a);      // INCR, then POST /invalidate/gen on a
 * await oracle.read(b, "1");       // checked: gen >= every resolved generation
 * expect(oracle.stale).to.deep.equal([]);
 */
export class GenerationOracle {
  /** The highest generation whose invalidation resolved, and when. */
  private floor = { gen: 0, resolvedAt: 0, by: "" };
  readonly reads: InstanceResponse[] = [];
  readonly invalidations: InvalidationRecord[] = [];
  /** One message per stale response. */
  readonly stale: string[] = [];
  /** One message per failed read (network error, not 200, wrong page). */
  readonly readErrors: string[] = [];

  private constructor(
    private readonly client: OracleClient,
    readonly namespace: string,
  ) {}

  /** Connects to the Redis that holds `<namespace>:gen` (the one the instances' ORACLE_REDIS names). */
  static async open(url: string, namespace: string): Promise<GenerationOracle> {
    const client = openOracleClient(url);
    client.on("error", () => undefined);
    await client.connect();
    return new GenerationOracle(client, namespace);
  }

  /** The highest generation whose invalidation has resolved. */
  get resolvedGen(): number {
    return this.floor.gen;
  }

  /** Reads `/page/<id>` from `instance` and checks it against every invalidation resolved before the read started. */
  async read(instance: TierInstance, id: string, timeoutMs = 10_000): Promise<InstanceResponse | undefined> {
    const floor = this.floor;
    let res: InstanceResponse;
    try {
      res = await instance.get(`/page/${id}`, timeoutMs);
    } catch (error) {
      this.readErrors.push(`${instance.name} GET /page/${id} started at ${now()} ms: ${(error as Error).message}`);
      return undefined;
    }
    this.reads.push(res);
    if (res.status !== 200 || typeof res.body !== "object" || res.body.id !== id) {
      this.readErrors.push(`${instance.name} GET /page/${id} at ${res.startedAt} ms: ${res.status} ${JSON.stringify(res.body)}`);
      return res;
    }
    if (res.body.gen < floor.gen) {
      this.stale.push(
        `${instance.name} GET /page/${id} started at ${res.startedAt} ms, answered at ${res.endedAt} ms (X-Cache: ${res.xCache}): ` +
          `gen ${res.body.gen} computed at ${res.body.computedAt} by pid ${res.body.pid}, but invalidateTag("gen") for gen ${floor.gen} ` +
          `(through ${floor.by}) had resolved at ${floor.resolvedAt} ms`,
      );
    }
    return res;
  }

  /**
   * Invalidates `tag` through `instance`. For "gen" (the default) it first INCRs the counter, and
   * raises the floor every later read is checked against once the instance answers ok.
   */
  async invalidate(instance: TierInstance, tag = "gen", timeoutMs = 15_000): Promise<InvalidationRecord> {
    const gen = tag === "gen" ? await this.client.incr(`${this.namespace}:gen`) : 0;
    const calledAt = now();
    let record: InvalidationRecord;
    try {
      const res = await instance.post(`/invalidate/${encodeURIComponent(tag)}`, timeoutMs);
      record = {
        by: instance.name,
        tag,
        gen,
        calledAt,
        resolvedAt: res.endedAt,
        status: res.status,
        ok: res.status === 200 && res.body?.ok === true,
        body: res.body,
      };
    } catch (error) {
      record = { by: instance.name, tag, gen, calledAt, resolvedAt: now(), status: 0, ok: false, body: { error: (error as Error).message } };
    }
    this.invalidations.push(record);
    if (record.ok && gen > this.floor.gen) this.floor = { gen, resolvedAt: record.resolvedAt, by: instance.name };
    return record;
  }

  /** Reads served, by X-Cache value. */
  cacheLabels(reads: InstanceResponse[] = this.reads): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const read of reads) counts[read.xCache ?? "none"] = (counts[read.xCache ?? "none"] ?? 0) + 1;
    return counts;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** How long an invalidation took, seen from the test (call to answer), in ms. */
export function took(record: InvalidationRecord): number {
  return Math.round(record.resolvedAt - record.calledAt);
}
