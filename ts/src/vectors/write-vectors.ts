// Writes spec/vectors from the table in cases.ts: `node dist/vectors/write-vectors.js <dir>`.
// With --check it only compares and exits 1 when the files on disk differ (drift).
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildVectors, vectorJson } from "./cases.js";

export function vectorFiles(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const names: string[] = [];
  for (const v of buildVectors()) {
    const json = vectorJson(v);
    const datagramFiles = json.datagrams as string[];
    v.datagrams.forEach((d, i) => files.set(datagramFiles[i]!, Buffer.from(d)));
    files.set(`${v.name}.json`, Buffer.from(`${JSON.stringify(json, null, 2)}\n`));
    names.push(v.name);
  }
  files.set("index.json", Buffer.from(`${JSON.stringify({ vectors: names }, null, 2)}\n`));
  return files;
}

function main(args: string[]): number {
  const check = args.includes("--check");
  const dir = args.find((a) => !a.startsWith("--"));
  if (dir === undefined) {
    process.stderr.write("usage: write-vectors <dir> [--check]\n");
    return 2;
  }
  const files = vectorFiles();
  const onDisk = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile() && (e.name.endsWith(".bin") || e.name.endsWith(".json"))).map((e) => e.name);
  if (check) {
    const problems: string[] = [];
    for (const [name, content] of files) {
      let current: Buffer | null = null;
      try {
        current = readFileSync(join(dir, name));
      } catch {
        problems.push(`missing: ${name}`);
        continue;
      }
      if (!current.equals(content)) problems.push(`differs: ${name}`);
    }
    for (const name of onDisk) if (!files.has(name)) problems.push(`not generated: ${name}`);
    for (const p of problems) process.stderr.write(`vectors: ${p}\n`);
    if (problems.length === 0) process.stdout.write(`vectors: ${files.size} files in ${dir} match the generator\n`);
    return problems.length === 0 ? 0 : 1;
  }
  mkdirSync(dir, { recursive: true });
  for (const name of onDisk) if (!files.has(name)) rmSync(join(dir, name));
  for (const [name, content] of files) writeFileSync(join(dir, name), content);
  process.stdout.write(`vectors: wrote ${files.size} files to ${dir}\n`);
  return 0;
}

if (process.argv[1]?.endsWith("write-vectors.js")) process.exitCode = main(process.argv.slice(2));
