// Total self time of functions matching a name, by their call stack (3 parents): node callers.cjs file name
const p = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
const want = process.argv[3];
const nodes = new Map(p.nodes.map((x) => [x.id, x]));
const parent = new Map();
for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
const dt = new Map();
for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const out = new Map();
const name = (id) => { const f = nodes.get(id).callFrame; return `${f.functionName || "(anon)"}@${f.url.split("/").slice(-1)[0]}:${f.lineNumber}`; };
for (const [id, us] of dt) {
  if (!nodes.get(id).callFrame.functionName.includes(want)) continue;
  let chain = [], cur = parent.get(id);
  for (let k = 0; k < 5 && cur !== undefined; k++, cur = parent.get(cur)) chain.push(name(cur));
  const key = chain.join(" < ");
  out.set(key, (out.get(key) ?? 0) + us);
}
for (const [k, v] of [...out].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log((v / 1e3).toFixed(0).padStart(6), k);
