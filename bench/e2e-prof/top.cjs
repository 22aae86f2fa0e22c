// Self time by function (and by file) of a .cpuprofile: node top.cjs file [n]
const p = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
const n = Number(process.argv[3] ?? 25);
const self = new Map(), byFile = new Map(), dt = new Map();
const nodes = new Map(p.nodes.map((x) => [x.id, x]));
for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
let total = 0;
for (const [id, us] of dt) {
  const f = nodes.get(id).callFrame;
  const k = `${f.functionName || "(anon)"} ${f.url.split("/").slice(-2).join("/")}:${f.lineNumber}`;
  self.set(k, (self.get(k) ?? 0) + us);
  const file = f.url.split("/").slice(-2).join("/") || f.functionName;
  byFile.set(file, (byFile.get(file) ?? 0) + us);
  total += us;
}
const idle = [...self].filter(([k]) => k.startsWith("(idle)")).reduce((a, [, v]) => a + v, 0);
console.log(`total ${(total / 1e3).toFixed(0)} ms, idle ${(idle / 1e3).toFixed(0)} ms`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(((v / 1e3).toFixed(1) + " ms").padStart(10), k);
console.log("--- by file");
for (const [k, v] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(((v / 1e3).toFixed(1) + " ms").padStart(10), k);
