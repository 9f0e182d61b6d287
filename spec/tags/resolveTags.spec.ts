import { expect } from "chai";
import { versioned, type CacheRequest } from "../../src";
import { resolveTags, TagResolutionError } from "../../src/tags/resolveTags";

const req = { method: "GET", path: "/", url: "/", query: { c: "shoes" }, params: {}, headers: {}, host: "example.test", raw: {} } as CacheRequest;

describe("tag resolution", () => {
  it("trims, turns inner white space into '-', drops empty ones and duplicates, keeps order", () => {
    const tags = resolveTags([" b ", "a  b\tc", "", "   ", "b", "a-b-c", "z"], req).map((t) => t.name);
    expect(tags).to.deep.equal(["b", "a-b-c", "z"]);
  });

  it("adds what callables return: a string, each of an array, nothing for null/undefined/[]", () => {
    const tags = resolveTags([(r) => `cat-${r.query.c}`, () => ["x", "y"], () => null, () => undefined, () => []], req);
    expect(tags.map((t) => t.name)).to.deep.equal(["cat-shoes", "x", "y"]);
  });

  it("marks versioned tags, with their version lifetime, also from a callable name", () => {
    const [a, b] = resolveTags([versioned("unit-products", 100), versioned((r) => `cat-${r.query.c}`)], req);
    expect(a).to.deep.equal({ name: "unit-products", versioned: true, versionTimeout: 100 });
    expect(b).to.deep.equal({ name: "cat-shoes", versioned: true, versionTimeout: 864000 });
  });

  it("keeps a name used both ways once, as versioned", () => {
    const tags = resolveTags(["unit-p", versioned("unit-p")], req);
    expect(tags).to.have.length(1);
    expect(tags[0].versioned).to.equal(true);
  });

  it("turns a throwing callable or a wrong return into a TagResolutionError that says what to return", () => {
    expect(() =>
      resolveTags(
        [
          () => {
            throw new Error("nope");
          },
        ],
        req,
      ),
    ).to.throw(TagResolutionError, /tag #1 threw: nope/);
    expect(() => resolveTags([() => 5 as never], req)).to.throw(TagResolutionError, /must return a string, an array of strings, null or undefined/);
    expect(() => resolveTags([() => [{}] as never], req)).to.throw(TagResolutionError);
  });

  it("rejects bad versioned() arguments at once", () => {
    expect(() => versioned("")).to.throw(/must not be empty/);
    expect(() => versioned("x", 0)).to.throw(/positive number of seconds/);
  });
});
