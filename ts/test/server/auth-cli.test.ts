// The issuer and token commands and --token-file of the client commands, run as processes (dist/).
import { afterAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildServer, type Server } from "../../src/server/http/app.js";
import { parseAuthConfig } from "../../src/server/auth/config.js";
import { freePort, tempDir } from "./helpers.js";

const CLI = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "dist", "cli", "main.js");

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, CONDCAST_TOKEN: "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe("condcast issuer, token and --token-file", () => {
  const tmp = tempDir();
  let issuer: ChildProcess | undefined;
  let repo: Server | undefined;

  afterAll(async () => {
    issuer?.kill("SIGTERM");
    await repo?.close();
    tmp.cleanup();
  });

  it("mints a token the repository accepts from --token-file and CONDCAST_TOKEN", async () => {
    const dir = join(tmp.dir, "issuer");
    const port = await freePort();
    issuer = spawn(process.execPath, [CLI, "issuer", "--dir", dir, "--listen", `127.0.0.1:${port}`], { stdio: ["ignore", "pipe", "inherit"] });
    const line = await new Promise<string>((resolve) => issuer!.stdout!.once("data", (d: Buffer) => resolve(d.toString())));
    const { issuer: iss, jwksUri } = JSON.parse(line) as { issuer: string; jwksUri: string };
    expect(iss).toBe(`http://127.0.0.1:${port}`);
    const discovery = (await (await fetch(`${iss}/.well-known/openid-configuration`)).json()) as { jwks_uri: string };
    expect(discovery.jwks_uri).toBe(jwksUri);

    repo = await buildServer({ role: "repository", host: "127.0.0.1", port: 0, logger: false, dataDir: join(tmp.dir, "repo"), auth: parseAuthConfig(JSON.stringify({ issuers: [{ issuer: iss, jwksUri, audience: "repo-a", prefix: "/" }] })) });
    const url = await repo.start();

    const minted = await run(["token", "--dir", dir, "--issuer", iss, "--aud", "repo-a", "--scope", "storage.create:/TPC storage.read:/", "--ttl", "600", "--sub", "alice"]);
    expect(minted.code, minted.stderr).toBe(0);
    const token = minted.stdout.trim();
    const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ iss, aud: "repo-a", sub: "alice", scope: "storage.create:/TPC storage.read:/" });
    expect((claims.exp as number) - (claims.iat as number)).toBe(600);

    const refused = await run(["changeset", "open", "--url", url, "--keytable", "k"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("answered 401: this request needs a bearer token");
    const tokenFile = join(tmp.dir, "token");
    writeFileSync(tokenFile, `${token}\n`);
    const opened = await run(["changeset", "open", "--url", url, "--keytable", "k", "--token-file", tokenFile]);
    expect(opened.code, opened.stderr).toBe(0);
    expect(JSON.parse(opened.stdout)).toMatchObject({ state: "open", keytable: "k" });
    const id = (JSON.parse(opened.stdout) as { id: string }).id;
    // An upload into the changeset carries the token too (it did not before: 401 with --token-file).
    const file = join(tmp.dir, "gain.root");
    writeFileSync(file, "gain table");
    const upload = ["changeset", "upload", "--url", url, "--id", id, "--path", "TPC/Calib", "--valid-from", "1", "--valid-until", "2"];
    expect((await run([...upload, file])).stderr).toContain("answered 401");
    const uploaded = await run([...upload, "--token-file", tokenFile, file]);
    expect(uploaded.code, uploaded.stderr).toBe(0);
    expect(JSON.parse(uploaded.stdout)).toMatchObject({ file, changeset: id });
    expect((await run(["changeset", "abort", "--url", url, "--id", id])).stderr).toContain("answered 401");
    const fromEnv = await run(["changeset", "abort", "--url", url, "--id", id], { CONDCAST_TOKEN: token });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
  });
});
