import { expect } from "chai";
import { entryPart } from "../../src/stores/keyParts";
import { KeyMemo } from "../../src/stores/keyMemo";

describe("KeyMemo (the derived keys of the hit path)", () => {
  it("derives each key once and hands back the same value after", () => {
    const calls: string[] = [];
    const memo = new KeyMemo((key) => {
      calls.push(key);
      return `=${key}`;
    });
    expect(memo.get("a")).to.equal("=a");
    expect(memo.get("a")).to.equal("=a");
    expect(memo.get("b")).to.equal("=b");
    expect(calls).to.deep.equal(["a", "b"]);
  });

  it("stays bounded: past its limit it starts over, and every answer is still the derived one", () => {
    let derived = 0;
    const memo = new KeyMemo((key) => {
      derived += 1;
      return key.toUpperCase();
    }, 3);
    for (const key of ["a", "b", "c", "d", "a", "b"]) expect(memo.get(key)).to.equal(key.toUpperCase());
    // a, b, c derived; d starts over; a and b derived again.
    expect(derived).to.equal(6);
    expect((memo as unknown as { known: Map<string, string> }).known.size).to.be.at.most(3);
  });

  it("never keeps a key longer than its maximum length: a flood of long URLs cannot grow it past limit × that length", () => {
    const calls: string[] = [];
    const memo = new KeyMemo(
      (key) => {
        calls.push(key);
        return `=${key}`;
      },
      4096,
      8,
    );
    const long = "x".repeat(9);
    expect(memo.get(long)).to.equal(`=${long}`);
    expect(memo.get(long)).to.equal(`=${long}`);
    expect(memo.get("12345678")).to.equal("=12345678");
    expect(memo.get("12345678")).to.equal("=12345678");
    expect(calls, "the long key is derived on every call, the short one once").to.deep.equal([long, long, "12345678"]);
    expect([...(memo as unknown as { known: Map<string, string> }).known.keys()]).to.deep.equal(["12345678"]);
  });

  it("gives what entryPart gives for hostile storage keys", () => {
    const memo = new KeyMemo((key) => entryPart(key));
    const keys = ["__proto__", "constructor", ":/?q=\u0000", ":/\ud800", `:/${"x".repeat(600)}`, ":/%FF", ":/%EF%BF%BD", "hasOwnProperty"];
    for (const key of [...keys, ...keys]) expect(memo.get(key)).to.equal(entryPart(key));
  });
});
