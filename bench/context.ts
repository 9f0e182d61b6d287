/** Settings every scenario receives from bench/run.ts. */
export interface BenchContext {
  /** Rounds per comparison (medians are taken over them). */
  rounds: number;
  /** Seconds per target per round. */
  duration: number;
  /** Seconds of warm-up per target before the rounds. */
  warmupSeconds: number;
  /** Concurrent connections of the throughput runs. */
  connections: number;
  redisUrl: string;
  /** Keyv namespace of everything the bench writes to Redis (cleaned up afterwards). */
  namespace: string;
  /** Where CPU profiles go. */
  profilesDir: string;
  /** Shorter runs for trying the bench out (`--quick`); the report says so. */
  quick: boolean;
  log(line: string): void;
}
