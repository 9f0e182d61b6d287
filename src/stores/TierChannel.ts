/**
 * One invalidation as the log carries it: tags moved to new versions, entries deleted by key.
 *
 * @example
 * const event: TierEvent = { tags: [["products", 1764115200000000]], parts: ["=:/products"] };
 */
export interface TierEvent {
  /** `[tag, new version]` pairs. */
  tags: Array<[string, number]>;
  /** Entry parts (keys inside the entries namespace) deleted. */
  parts: string[];
}

/**
 * What an invalidation still waits for.
 *
 * @example
 * const { pending, waitMs }: TierWait = await channel.pending(id, "me");
 */
export interface TierWait {
  pending: string[];
  waitMs: number;
}

/**
 * What a lease renewal learnt: whether the lease held without a gap since the renewal this
 * instance last saw acknowledged, and the id of the newest invalidation in the log when it was
 * renewed.
 *
 * @example
 * const { continuous, lastId }: LeaseRenewal = await channel.renewLease(id, "id:2", "id:1", 2000, "0-0");
 */
export interface LeaseRenewal {
  continuous: boolean;
  lastId: string;
}

/**
 * The shared part of the two tiers (SPEC §9), offered by a store driver that can carry it (Redis,
 * Redis Cluster): leases with expiry, a durable log of invalidations, and each instance's
 * watermark (the last invalidation it applied). Every instance with a local tier holds a lease;
 * an invalidation is appended to the log, and resolves once every live lease has applied it.
 *
 * @example
 * const channel = driver.openTierChannel!();
 * const { id, pending } = await channel.append({ tags: [["products", 17]], parts: [] }, "me");
 */
export interface TierChannel {
  /**
   * Renews (or takes) the lease of `instance` for `leaseMs`, storing `token` and recording the
   * instance's watermark `applied` (never lowering it). `continuous` is true only when the lease
   * still held `expected` (the token of the last renewal this instance saw acknowledged).
   */
  renewLease(instance: string, token: string, expected: string | undefined, leaseMs: number, applied: string): Promise<LeaseRenewal>;
  /** Drops the lease and watermark of `instance` (on close): invalidations stop waiting for it. */
  dropLease(instance: string): Promise<void>;
  /**
   * Appends `event` to the log; returns its id and what it waits for (see {@link pending}).
   */
  append(event: TierEvent, self: string): Promise<{ id: string } & TierWait>;
  /**
   * What an invalidation `id` still waits for: the live instances (other than `self`) whose
   * watermark is below it (expired leases are dropped), and `waitMs` > 0 when the store lost its
   * leases lately (leases it no longer records may still be running for that long).
   */
  pending(id: string, self: string): Promise<TierWait>;
  /** Ends the lease of `instance` now; returns how many ms its last renewal had left (0 when none). */
  revoke(instance: string): Promise<number>;
  /** Records that `instance` applied everything up to `id`. */
  acknowledge(instance: string, id: string): Promise<void>;
  /** Invalidations after `after`, waiting up to `blockMs` for one (on a connection of its own). */
  read(after: string, blockMs: number): Promise<Array<{ id: string; event: TierEvent }>>;
  /** Closes the reading connection. */
  close(): Promise<void>;
  /** Drops a reading connection that stopped answering; the next read opens a new one. */
  resetReader?(): void;
  /**
   * Calls `listener` whenever a connection to the store is lost (the store restarted, the network
   * broke): the store may have lost the leases with it.
   */
  onConnectionLost?(listener: () => void): void;
}

/**
 * Parses a log record's fields back into an event; garbage gives an empty event.
 *
 * @example
 * decodeTierEvent({ t: '[["products",17]]', k: "[]" }); // { tags: [["products", 17]], parts: [] }
 */
export function decodeTierEvent(fields: Record<string, string>): TierEvent {
  const tags: Array<[string, number]> = [];
  const parts: string[] = [];
  try {
    const t = JSON.parse(fields.t ?? "[]") as unknown;
    if (Array.isArray(t)) {
      for (const pair of t) if (Array.isArray(pair) && typeof pair[0] === "string" && typeof pair[1] === "number") tags.push([pair[0], pair[1]]);
    }
    const k = JSON.parse(fields.k ?? "[]") as unknown;
    if (Array.isArray(k)) for (const part of k) if (typeof part === "string") parts.push(part);
  } catch {
    // A record that is not ours: nothing to apply.
  }
  return { tags, parts };
}

/**
 * The fields a log record is written with.
 *
 * @example
 * encodeTierEvent({ tags: [["products", 17]], parts: [] }); // { t: '[["products",17]]', k: "[]" }
 */
export function encodeTierEvent(event: TierEvent): Record<string, string> {
  return { t: JSON.stringify(event.tags), k: JSON.stringify(event.parts) };
}
