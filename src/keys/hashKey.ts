import { createHash } from "node:crypto";

/**
 * MD5 of a string, as 32 lower-case hex characters. Handy to keep long keys short.
 *
 * @example
 * keyFunc: (req) => hashKey(req.url) // "5d41402abc4b2a76b9719d911017c592"
 */
export function hashKey(value: string): string {
  return createHash("md5").update(value, "utf8").digest("hex");
}
