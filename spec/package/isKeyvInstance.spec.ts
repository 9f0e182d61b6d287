import { expect } from "chai";
import { Keyv } from "keyv";
import { isKeyvInstance } from "../../src/stores/isKeyvInstance";

/** A second copy of keyv, as an app gets when it installs another one next to ours. */
function loadSecondKeyvCopy(): typeof Keyv {
  const path = require.resolve("keyv");
  const saved = require.cache[path];
  delete require.cache[path];
  try {
    return (require("keyv") as { Keyv: typeof Keyv }).Keyv;
  } finally {
    require.cache[path] = saved;
  }
}

describe("isKeyvInstance", () => {
  it("recognises a Keyv from another copy of keyv, where instanceof fails", () => {
    const OtherKeyv = loadSecondKeyvCopy();
    const keyv = new OtherKeyv();
    expect(keyv instanceof Keyv).to.equal(false);
    expect(isKeyvInstance(keyv)).to.equal(true);
  });

  it("does not take a store adapter or a Map for a Keyv", () => {
    expect(isKeyvInstance(new Map())).to.equal(false);
    expect(isKeyvInstance(new Keyv().store)).to.equal(false);
    expect(isKeyvInstance({ get() {}, set() {}, delete() {} })).to.equal(false);
    expect(isKeyvInstance(null)).to.equal(false);
  });
});
