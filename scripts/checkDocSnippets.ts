/**
 * `npm run docs:check`: type-checks every ```ts block of README.md and docs/*.md against the
 * package, the way a user would paste it into an app: `custom-cache-page` (and its subpaths) are
 * mapped to src/ by tsconfig.json's `paths`, everything else comes from node_modules.
 *
 * Conventions for the blocks (see CONTRIBUTING.md, "Docs"):
 * - each block is its own module (top-level `await` allowed), so names never clash between blocks;
 * - an HTML comment `<!-- setup: ... -->` right before the fence (it may span several lines) is
 *   hidden code put before the block: the imports or declarations a fragment needs to compile;
 * - `<!-- no-check -->` right before the fence skips a block (shapes quoted for reading, not code);
 * - scripts/docSnippetGlobals.d.ts declares the app the snippets talk about (`db`, `User`, ...).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

const ROOT = path.resolve(__dirname, "..");
const OUT = path.join(ROOT, ".ci", "tmp", "doc-snippets");

interface Snippet {
  file: string;
  /** 1-based line of the block's first code line in the Markdown file. */
  line: number;
  setup: string;
  code: string;
}

function markdownFiles(): string[] {
  const docs = path.join(ROOT, "docs");
  const pages = readdirSync(docs)
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => path.join(docs, f));
  return [path.join(ROOT, "README.md"), ...pages];
}

/** The ```ts blocks of one Markdown file, with the setup comment that precedes each. */
export function extractSnippets(file: string, text: string): Snippet[] {
  const lines = text.split("\n");
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end += 1;
    const before = commentBefore(lines, i);
    if (!/^<!--\s*no-check\b/.test(before)) {
      const setup = /^<!--\s*setup:([\s\S]*)-->$/.exec(before)?.[1] ?? "";
      snippets.push({ file, line: start + 1, setup: setup.trim(), code: lines.slice(start, end).join("\n") });
    }
    i = end;
  }
  return snippets;
}

/** The HTML comment that ends on the line right before `fence` (blank lines allowed), or "". */
function commentBefore(lines: string[], fence: number): string {
  let last = fence - 1;
  while (last >= 0 && lines[last].trim() === "") last -= 1;
  if (last < 0 || !lines[last].trimEnd().endsWith("-->")) return "";
  let first = last;
  while (first >= 0 && !lines[first].trimStart().startsWith("<!--")) first -= 1;
  return first < 0
    ? ""
    : lines
        .slice(first, last + 1)
        .join("\n")
        .trim();
}

function main(): void {
  const snippets = markdownFiles().flatMap((file) => extractSnippets(file, readFileSync(file, "utf8")));
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const origin = new Map<string, { snippet: Snippet; offset: number }>();
  const roots = [path.join(ROOT, "scripts", "docSnippetGlobals.d.ts")];
  snippets.forEach((snippet, index) => {
    const name = path.join(OUT, `${path.basename(snippet.file, ".md")}-${String(index).padStart(3, "0")}-L${snippet.line}.ts`);
    const header = snippet.setup ? `${snippet.setup}\n` : "";
    writeFileSync(name, `${header}${snippet.code}\nexport {};\n`);
    origin.set(name, { snippet, offset: header ? header.split("\n").length - 1 : 0 });
    roots.push(name);
  });

  const config = ts.getParsedCommandLineOfConfigFile(path.join(ROOT, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  if (!config) throw new Error("tsconfig.json could not be read");
  const options: ts.CompilerOptions = {
    ...config.options,
    // A snippet is a module of an app: top-level await, ES imports; fragments may leave parameters unused.
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    noEmit: true,
    noUnusedLocals: false,
    noUnusedParameters: false,
    types: ["node"],
  };
  const program = ts.createProgram(roots, options);
  const diagnostics = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => !d.file || origin.has(path.normalize(d.file.fileName)) || d.file.fileName.endsWith("docSnippetGlobals.d.ts"));

  for (const diagnostic of diagnostics) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n");
    const source = diagnostic.file ? origin.get(path.normalize(diagnostic.file.fileName)) : undefined;
    if (!diagnostic.file || diagnostic.start === undefined || !source) {
      console.error(`${diagnostic.file?.fileName ?? "(config)"}: ${message}`);
      continue;
    }
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    const inBlock = line - source.offset;
    const where = inBlock < 0 ? `setup of the block at line ${source.snippet.line}` : `line ${source.snippet.line + inBlock}`;
    console.error(`${path.relative(ROOT, source.snippet.file)}:${inBlock < 0 ? source.snippet.line : source.snippet.line + inBlock}: ${message} (${where})`);
  }
  const files = new Set(snippets.map((s) => s.file)).size;
  console.log(`docs:check: ${snippets.length} TypeScript block(s) in ${files} file(s), ${diagnostics.length} error(s)`);
  if (diagnostics.length > 0) process.exitCode = 1;
}

if (require.main === module) main();
