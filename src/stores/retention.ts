/**
 * How much longer than its entry an index membership, and a plain tag's version, is kept: covers
 * clock differences between processes and cluster nodes (the entry and its set may live on
 * different nodes), and an action that runs between its lookup and its store.
 *
 * @example
 * // an entry stored for 300 s keeps its memberships and its plain tags' versions for 360 s
 */
export const RETENTION_SLACK_MS = 60_000;
