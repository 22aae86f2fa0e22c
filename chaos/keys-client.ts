// The chaos suite's keys check (SPEC 11), run inside the load host:
//   node chaos/keys-client.ts <repository> <seconds> <server>...
// A writer commits changesets of 10 objects in a loop for <seconds>, each object carrying its
// generation in its metadata (gen=N); readers poll every server (the repository and the caches) with
// ten concurrent unpinned reads and then ten reads pinned to the key the first answer named. No answer
// may mix generations: an unpinned read's object is the generation of the key its Condcast-Key header
// names, and the ten pinned reads give one generation. Refused connections (a server restarting) are
// counted, not violations. Afterwards it waits (up to 90 s) until every server holds the last key, and
// prints one JSON verdict: {"commits","reads","pinnedRounds","unreachable","lastKey","finalKeys",
// "keysSeen","problems"}.
const PATHS = Array.from({ length: 10 }, (_, i) => `Chaos/Keys/Det${i}/Calib`);
const REQUEST_TIMEOUT_MS = 15_000;
const SIZES = [2_000, 8_000, 30_000, 60_000, 120_000];

async function commitGeneration(repository: string, gen: number, validity: string): Promise<number> {
  const opened = await fetch(`${repository}/changesets`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ keytable: "online" }), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  if (opened.status !== 201) throw new Error(`POST /changesets answered ${opened.status}: ${await opened.text()}`);
  const { id } = (await opened.json()) as { id: string };
  for (const [i, path] of PATHS.entries()) {
    const payload = new Uint8Array(SIZES[(gen + i) % SIZES.length]!).fill((gen * 31 + i) & 0xff);
    const form = new FormData();
    form.append("send", new Blob([payload]), "calib.root");
    const r = await fetch(`${repository}/${path}/${validity}/gen=${gen}`, { method: "POST", body: form, headers: { "condcast-changeset": id }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    if (r.status !== 201) throw new Error(`upload into ${id} answered ${r.status}: ${await r.text()}`);
  }
  const done = await fetch(`${repository}/changesets/${id}/commit`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}", signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  if (done.status !== 200) throw new Error(`commit answered ${done.status}: ${await done.text()}`);
  return ((await done.json()) as { key: number }).key;
}

interface Read {
  readonly status: number;
  readonly key: number;
  readonly gen: number;
}

async function read(url: string, headers: Record<string, string> = {}): Promise<Read | "unreachable"> {
  try {
    const r = await fetch(url, { headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    await r.arrayBuffer();
    const key = Number(/online\/(\d+)/.exec(r.headers.get("condcast-key") ?? "")?.[1] ?? 0);
    return { status: r.status, key, gen: Number(r.headers.get("gen") ?? -1) };
  } catch {
    return "unreachable";
  }
}

async function main(): Promise<void> {
  const [repository, secondsText, ...servers] = process.argv.slice(2);
  if (repository === undefined || secondsText === undefined || servers.length === 0) throw new Error("usage: keys-client.ts <repository> <seconds> <server>...");
  const T = Date.now();
  const validity = `${T - 1000}/${T + 3_600_000}`;
  const generationOfKey = new Map<number, number>();
  const problems: string[] = [];
  const keysSeen = new Map<string, Set<number>>(servers.map((s) => [s, new Set()]));
  let reads = 0;
  let pinnedRounds = 0;
  let unreachable = 0;
  let writing = true;
  // Checked once the writer is done (a read may answer before the commit's answer arrives here).
  const observed: { server: string; path: string; key: number; gen: number }[] = [];

  const reader = async (server: string): Promise<void> => {
    while (writing) {
      const answers = await Promise.all(PATHS.map((p) => read(`${server}/${p}/${T}`)));
      let key = 0;
      for (const [i, a] of answers.entries()) {
        if (a === "unreachable") {
          unreachable++;
          continue;
        }
        if (a.status === 404 || a.status === 503) continue; // before the first key; upstream away
        reads++;
        if (a.status !== 200) problems.push(`${server} ${PATHS[i]}: answered ${a.status}`);
        observed.push({ server, path: PATHS[i]!, key: a.key, gen: a.gen });
        keysSeen.get(server)!.add(a.key);
        if (key === 0) key = a.key;
      }
      if (key === 0) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const pinned = await Promise.all(PATHS.map((p) => read(`${server}/${p}/${T}`, { "condcast-key": `online/${key}` })));
      if (pinned.some((a) => a === "unreachable")) {
        unreachable++;
        continue;
      }
      pinnedRounds++;
      const got = pinned as Read[];
      // A restarted cache may no longer hold a key it flipped past before the restart: 404, not a mix.
      if (got.some((a) => a.status !== 200 && a.status !== 404 && a.status !== 503)) problems.push(`${server}: pinned to online/${key}: ${got.map((a) => a.status).join(",")}`);
      const gens = new Set(got.filter((a) => a.status === 200).map((a) => a.gen));
      if (gens.size > 1) problems.push(`${server}: pinned to online/${key}: generations ${[...gens].join(",")}`);
      for (const a of got) if (a.status === 200) observed.push({ server, path: "(pinned)", key, gen: a.gen });
    }
  };

  const readers = servers.map((s) => reader(s));
  const until = Date.now() + Number(secondsText) * 1000;
  let gen = 0;
  let writerError: string | undefined;
  try {
    while (Date.now() < until) {
      gen++;
      generationOfKey.set(await commitGeneration(repository, gen, validity), gen);
    }
  } catch (error) {
    writerError = (error as Error).message;
  }
  const lastKey = Math.max(0, ...generationOfKey.keys());
  // Every server ends on the last key.
  const finalKeys: Record<string, number> = {};
  const deadline = Date.now() + 90_000;
  for (const server of servers) {
    for (;;) {
      const r = await fetch(`${server}/keys/online`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }).catch(() => undefined);
      finalKeys[server] = r?.status === 200 ? ((await r.json()) as { key: number }).key : 0;
      if (finalKeys[server] === lastKey || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    if (finalKeys[server] !== lastKey) problems.push(`${server} holds key ${finalKeys[server]}, not the last key ${lastKey}, 90 s after the last commit`);
  }
  writing = false;
  await Promise.all(readers);
  if (writerError !== undefined) problems.push(`the writer stopped: ${writerError}`);
  for (const o of observed) {
    const expected = generationOfKey.get(o.key);
    if (expected === undefined) problems.push(`${o.server} ${o.path}: key ${o.key} was never committed here`);
    else if (o.gen !== expected) problems.push(`${o.server} ${o.path}: generation ${o.gen} answered under key ${o.key} (generation ${expected})`);
  }
  for (const [server, seen] of keysSeen) if (seen.size < 3) problems.push(`${server}: readers saw only ${seen.size} keys (the check could not fail)`);
  console.log(
    JSON.stringify({ commits: generationOfKey.size, reads, pinnedRounds, unreachable, lastKey, finalKeys, keysSeen: Object.fromEntries([...keysSeen].map(([s, k]) => [s, k.size])), problems: problems.slice(0, 50), problemCount: problems.length }),
  );
}

main().catch((error: unknown) => {
  console.log(JSON.stringify({ problems: [`keys-client failed: ${(error as Error).stack ?? String(error)}`], problemCount: 1 }));
  process.exit(1);
});
