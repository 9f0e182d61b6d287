import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { TierChannel, TierEvent } from "../stores/TierChannel";
import type { LocalTier } from "./LocalTier";

/** Default lease of a local tier, ms. */
export const DEFAULT_LEASE_MS = 2000;
/**
 * The share of a lease this instance counts on: its own clock may run slightly fast against the
 * store's, which times the lease from when it received the renewal (after it was sent).
 */
const LEASE_SHARE = 0.95;

/** Waits for `work` at most `ms` (never rejects). */
async function withinMs(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  await Promise.race([work.catch(() => undefined), timeout]);
  clearTimeout(timer);
}

/**
 * True when stream id `a` sorts before `b` (`ms-seq`).
 *
 * @example
 * idBefore("1700000000000-1", "1700000000000-2"); // true
 */
export function idBefore(a: string, b: string): boolean {
  const [am, as] = a.split("-").map(Number);
  const [bm, bs] = b.split("-").map(Number);
  if (am !== bm) return am < bm;
  return as < bs;
}

/**
 * Appends an invalidation to the log and resolves once every instance holding a lease has applied
 * it, or has lost the right to serve local hits: an instance that has not applied it within
 * `graceMs` has its lease revoked, and the call waits out what that lease had left (at most its
 * length). Each answer of the store counts as progress (`onProgress`), so an invalidation deadline
 * restarts while it waits. Works without a lease of its own (`self` empty): every process that
 * invalidates on the store goes through the log. `onEvent` hears of revocations.
 *
 * @example
 * await publishInvalidation(channel, { tags: [["products", 18]], parts: [] }, "", 300, () => undefined);
 */
export async function publishInvalidation(
  channel: TierChannel,
  event: TierEvent,
  self: string,
  graceMs: number,
  onProgress: () => void,
  onEvent?: (event: TierLinkEvent) => void,
): Promise<{ id: string; revoked: number }> {
  const started = performance.now();
  const appended = await channel.append(event, self);
  const id = appended.id;
  let { pending, waitMs } = appended;
  onProgress();
  let delay = 1;
  let revoked = 0;
  /** Until when (performance.now()) revoked leases may still be running. */
  let revokedUntil = 0;
  for (;;) {
    const remaining = Math.max(waitMs, revokedUntil - performance.now());
    if (pending.length === 0 && remaining <= 0) return { id, revoked };
    if (pending.length > 0 && performance.now() - started >= graceMs) {
      const left = await Promise.all(pending.map((instance) => channel.revoke(instance)));
      onProgress();
      revoked += pending.length;
      onEvent?.({ kind: "revoked", count: pending.length });
      revokedUntil = Math.max(revokedUntil, performance.now() + Math.max(...left) + 1);
      pending = [];
      continue;
    }
    // Waiting for watermarks, for revoked leases to run out, or after the store lost its leases.
    await sleep(pending.length > 0 ? delay : Math.min(remaining, 50));
    delay = Math.min(delay * 2, 16);
    ({ pending, waitMs } = await channel.pending(id, self));
    onProgress();
  }
}

/**
 * Options of a {@link TierLink}.
 *
 * @example
 * const options: TierLinkOptions = { leaseMs: 2000, graceMs: 300 };
 */
export interface TierLinkOptions {
  /** How long a renewed lease lets this instance serve local hits, ms. */
  leaseMs: number;
  /** How long an invalidation waits for another instance before it revokes that instance's lease, ms. */
  graceMs: number;
  /** Told when the lease lapsed (the tier was dropped), a connection was lost, or this process revoked other leases. */
  onEvent?(event: TierLinkEvent): void;
}

/**
 * What a {@link TierLink} reports (see `CachePageTierEvent` for what each means).
 *
 * @example
 * const event: TierLinkEvent = { kind: "revoked", count: 1 };
 */
export interface TierLinkEvent {
  kind: "lapsed" | "connection-lost" | "revoked";
  count?: number;
}

/**
 * This instance's side of the two tiers (SPEC §9, DESIGN "Two tiers"): it holds a lease on the
 * store, renewed every third of `leaseMs`, and serves local hits only while the lease it last had
 * renewed is valid by its own clock, timed from when the renewal was sent. It reads the
 * invalidation log on a connection of its own, applies each invalidation to the local tier and
 * then records its watermark. When a renewal finds that the lease lapsed (expired, revoked, or
 * never taken), the tier is cleared and reading resumes from the newest invalidation: whatever
 * was missed cannot be served. A reader that stops answering stops the renewals, so the lease runs
 * out by itself.
 *
 * @example
 * const link = new TierLink(driver.tierChannel!(), new LocalTier(32 << 20), { leaseMs: 2000, graceMs: 300 });
 * link.start();
 * if (link.serving()) console.log("local hits allowed");
 */
export class TierLink {
  /** This instance's name on the store. */
  readonly id = randomUUID();
  /** Until when (performance.now() ms) local hits may be served. */
  private validUntil = 0;
  private token?: string;
  private renewals = 0;
  private renewing?: { seq: number; sentAt: number };
  /** The last invalidation applied here. */
  private cursor = "0-0";
  /** Moves when the cursor jumps (after a lapse): a read in flight from before is dropped. */
  private jumps = 0;
  private readerSeenAt = performance.now();
  private timer?: NodeJS.Timeout;
  private closed = false;
  private started = false;
  /** When a connection to the store was last lost (performance.now()). */
  private lostAt = Number.NEGATIVE_INFINITY;
  /** Renewals that found the lease lapsed (the tier was cleared each time). */
  lapses = 0;

  constructor(
    readonly channel: TierChannel,
    readonly tier: LocalTier,
    readonly options: TierLinkOptions,
  ) {}

  /** True while the lease lets this instance serve local hits. */
  serving(): boolean {
    return performance.now() < this.validUntil;
  }

  /** Starts renewing the lease and reading the log (once). */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    // A lost connection may mean the store lost the lease: no local hits until a renewal says how it stands.
    this.channel.onConnectionLost?.(() => {
      this.validUntil = 0;
      this.token = undefined;
      this.lostAt = performance.now();
      this.options.onEvent?.({ kind: "connection-lost" });
    });
    this.renew();
    void this.readLoop();
  }

  /**
   * Invalidates through the log: applies `event` here at once, then waits for every other lease
   * (see {@link publishInvalidation}).
   */
  async publish(event: TierEvent, onProgress: () => void): Promise<{ id: string; revoked: number }> {
    this.tier.apply(event);
    return publishInvalidation(this.channel, event, this.id, this.options.graceMs, onProgress, this.options.onEvent);
  }

  /** Stops renewing and reading, and gives the lease up so no invalidation waits for this instance. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.validUntil = 0;
    if (this.timer) clearTimeout(this.timer);
    // Best effort, bounded: with the store down the lease simply runs out.
    if (this.started) await withinMs(this.channel.dropLease(this.id), this.options.graceMs);
    // Closing the channel cuts the reader's connection: the read loop ends with it.
    await this.channel.close().catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => this.renew(), Math.max(1, ms));
    this.timer.unref();
  }

  private renew(): void {
    if (this.closed) return;
    const { leaseMs } = this.options;
    const now = performance.now();
    if (this.renewing) {
      // A renewal that never came back (a partition): stop trusting its token, try again.
      if (now - this.renewing.sentAt < 3 * leaseMs) {
        this.schedule(leaseMs / 3);
        return;
      }
      this.renewing = undefined;
      this.token = undefined;
    }
    if (now - this.readerSeenAt > this.readBlockMs() + leaseMs) {
      // The reader is stuck: no renewal (the lease runs out), and a new connection for it.
      this.channel.resetReader?.();
      this.readerSeenAt = now;
      this.schedule(leaseMs / 3);
      return;
    }
    const seq = ++this.renewals;
    const token = `${this.id}:${seq}`;
    this.renewing = { seq, sentAt: now };
    this.channel
      .renewLease(this.id, token, this.token, leaseMs, this.cursor)
      .then(
        ({ continuous, lastId }) => {
          // Superseded, or a connection was lost since it was sent: the next renewal tells.
          if (this.closed || this.renewing?.seq !== seq || this.lostAt >= now) return;
          this.token = token;
          if (!continuous) {
            this.lapses += 1;
            this.tier.clear();
            // The first lease of an instance is no lapse worth telling.
            if (this.lapses > 1) this.options.onEvent?.({ kind: "lapsed" });
            if (idBefore(this.cursor, lastId)) this.cursor = lastId;
            this.jumps += 1;
          }
          this.validUntil = now + leaseMs * LEASE_SHARE;
        },
        () => {
          // The store did not answer: the lease runs out by itself.
        },
      )
      .finally(() => {
        if (this.renewing?.seq !== seq) return;
        this.renewing = undefined;
        this.schedule(now + leaseMs / 3 - performance.now());
      });
  }

  private readBlockMs(): number {
    return Math.max(50, this.options.leaseMs / 2);
  }

  private async readLoop(): Promise<void> {
    while (!this.closed) {
      const jumps = this.jumps;
      try {
        const records = await this.channel.read(this.cursor, this.readBlockMs());
        this.readerSeenAt = performance.now();
        if (this.closed || jumps !== this.jumps) continue;
        for (const { id, event } of records) {
          if (!idBefore(this.cursor, id)) continue;
          this.tier.apply(event);
          this.cursor = id;
        }
        if (records.length > 0) await this.channel.acknowledge(this.id, this.cursor).catch(() => undefined);
      } catch {
        if (this.closed) return;
        await sleep(Math.min(200, this.options.leaseMs / 4));
      }
    }
  }
}
