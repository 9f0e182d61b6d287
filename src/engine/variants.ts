import { createHash } from "node:crypto";
import { MAX_VARIANTS_PER_KEY } from "../keys/storageKey";
import type { CacheRequest } from "../model";
import { variantValues } from "../http/vary";
import type { ActionMemory } from "./settings";

/** The variant of a request under the names an action varies on. */
export interface Variant {
  names: readonly string[];
  values: Array<string | null>;
  /** Undefined when the action varies on nothing (the plain key). */
  slot: number | undefined;
}

/** The variant a request selects, under the names the action is known to vary on. */
export function variantOf(names: readonly string[], request: CacheRequest): Variant {
  if (names.length === 0) return { names, values: [], slot: undefined };
  const values = variantValues(names, request.headers);
  return { names, values, slot: slotOf(names, values) };
}

/**
 * The slot of a variant: a hash of names and values, so every process puts one variant in the same
 * slot and a key has at most {@link MAX_VARIANTS_PER_KEY} of them in any store. Two variants in one
 * slot replace each other; the values stored with each entry keep one from being served for the other.
 */
function slotOf(names: readonly string[], values: ReadonlyArray<string | null>): number {
  const digest = createHash("sha1")
    .update(JSON.stringify([names, values]))
    .digest();
  return digest.readUInt32BE(0) % MAX_VARIANTS_PER_KEY;
}

/** How many keys per action the variant names are remembered for. */
const REMEMBERED_KEYS = 10_000;

/** The header names the response under `key` was last seen to vary on (none when unknown). */
export function varyNamesOf(memory: ActionMemory, key: string): readonly string[] {
  // Most actions vary on nothing: then no key needs hashing.
  return memory.varyByKey.size === 0 ? NONE : (memory.varyByKey.get(key) ?? NONE);
}

const NONE: readonly string[] = [];

/** Remembers what the response under `key` varies on; the least recently learnt key goes first. */
export function learnVaryNames(memory: ActionMemory, key: string, names: readonly string[]): void {
  const map = memory.varyByKey;
  if (names.length === 0) {
    map.delete(key);
    return;
  }
  map.delete(key);
  map.set(key, names);
  if (map.size > REMEMBERED_KEYS) map.delete(map.keys().next().value!);
}
