/**
 * A bounded memo of a string → string function, for the keys the hit path derives from a storage
 * key or a tag name (their store part, their physical key). Deriving one costs a scan, a copy and
 * a hash of a fresh string on every request; a memo hit costs one hash, and hands back a string
 * whose hash V8 has already cached, which makes the store's own Map lookup that follows cheap.
 * When `limit` keys are memoised it starts over (a flood of distinct URLs keeps it small), and a
 * key longer than `maxKeyLength` is derived every time, never kept: what the memo holds stays
 * within `limit × maxKeyLength` characters of keys (plus what they derive to), whatever the URLs.
 *
 * @example
 * const parts = new KeyMemo((key) => entryPart(key));
 * parts.get(":/products"); // "=:/products", derived once
 */
export class KeyMemo {
  private readonly known = new Map<string, string>();

  constructor(
    private readonly derive: (key: string) => string,
    private readonly limit = 4096,
    private readonly maxKeyLength = 512,
  ) {}

  get(key: string): string {
    if (key.length > this.maxKeyLength) return this.derive(key);
    let value = this.known.get(key);
    if (value === undefined) {
      if (this.known.size >= this.limit) this.known.clear();
      value = this.derive(key);
      this.known.set(key, value);
    }
    return value;
  }
}
