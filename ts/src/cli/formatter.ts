// `condcast formatter`: a formatter in any language. Follows the repository's change stream under a
// name and, for each build task, runs a program (through /bin/sh -c) in a fresh temporary directory
// holding the task's inputs as files; what the program writes to $CONDCAST_OUTPUT is uploaded into the
// task's changeset at its output path. A non-zero exit, no output, or the time running out is answered
// as the task's failure (the commit fails, naming the formatter). Prints one JSON line per task.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Formatter, type BuildResult, type DeriveTask, type FormatterInput } from "../formatter/formatter.js";
import { UsageError, intFlag, parseFlags, stringFlag } from "./options.js";
import { FileTokenSource, authorization, staticToken } from "../server/http/client.js";

export const FORMATTER_USAGE = `usage: condcast formatter --url REPOSITORY --name NAME --exec PROGRAM [options]
  Follows GET /changes/stream as formatter NAME and runs PROGRAM (with /bin/sh -c) once per build task,
  in a temporary directory, with:
    CONDCAST_INPUT_DIR    the inputs, one file per input at its object path (inputs/TPC/Calib/Gain)
    CONDCAST_INPUTS       those files, one per line, in path order
    CONDCAST_OUTPUT       the file to write the derived object to (uploaded when PROGRAM exits 0)
    CONDCAST_OUTPUT_PATH  the derived object's path; CONDCAST_VALID_FROM, CONDCAST_VALID_UNTIL its validity
    CONDCAST_TASK         the task as JSON (inputs with ids, paths, MD5s, validity)
    CONDCAST_CHANGESET, CONDCAST_KEYTABLE, CONDCAST_DERIVATION, CONDCAST_FORMATTER, CONDCAST_SEQUENCE
  --since N           answer only tasks above sequence N (default: the --state file's, else 0)
  --state FILE        keeps the last sequence answered, read at start: a restarted formatter resumes
  --exec-timeout MS   PROGRAM is killed after this and the task answered failed, default 60000
  --token-file FILE   bearer token for a repository with authorisation on (read again when it changes;
                      or the token itself in CONDCAST_TOKEN); its scopes must cover the outputs`;

const FLAGS = {
  url: { type: "string" },
  name: { type: "string" },
  exec: { type: "string" },
  since: { type: "string" },
  state: { type: "string" },
  "exec-timeout": { type: "string" },
  "token-file": { type: "string" },
  help: { type: "boolean" },
} as const;

const STDERR_KEPT = 4000;

/** Runs the formatter until SIGINT/SIGTERM (or `signal`); returns the exit code. */
export async function runFormatter(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream, signal?: AbortSignal): Promise<number> {
  const args = parseFlags(argv, FLAGS, env);
  if (args.values.help === true) {
    out.write(`${FORMATTER_USAGE}\n`);
    return 0;
  }
  const need = (name: string): string => {
    const v = stringFlag(args, name);
    if (v === undefined) throw new UsageError(`formatter: --${name} is required`);
    return v;
  };
  const url = need("url");
  const name = need("name");
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new UsageError(`--name must be 1 to 64 of [A-Za-z0-9._-], got ${JSON.stringify(name)}`);
  const program = need("exec");
  const stateFile = stringFlag(args, "state");
  const timeoutMs = intFlag(args, "exec-timeout", 60_000, 1, 3_600_000);
  let since = intFlag(args, "since", undefined, 0, Number.MAX_SAFE_INTEGER);
  if (since === undefined && stateFile !== undefined) {
    try {
      since = Number((JSON.parse(readFileSync(stateFile, "utf8")) as { lastSequence?: unknown }).lastSequence ?? 0) || 0;
    } catch {
      since = 0; // no state yet
    }
  }
  const tokenFile = stringFlag(args, "token-file");
  const tokens = tokenFile !== undefined ? new FileTokenSource(tokenFile) : staticToken(env.CONDCAST_TOKEN?.trim() || undefined);
  const line = (value: unknown): boolean => out.write(`${JSON.stringify(value)}\n`);
  const formatter = new Formatter({
    url,
    name,
    since,
    headers: () => authorization(tokens),
    build: async (task, inputs) => {
      line({ event: "task", sequence: task.sequence, changeset: task.changeset, derivation: task.derivation, output: task.output, inputs: inputs.length });
      return runProgram(program, task, inputs, timeoutMs, env);
    },
    onAnswered: (task, outcome) => {
      line({ event: "objectId" in outcome ? "built" : "failed", sequence: task.sequence, derivation: task.derivation, ...outcome });
      if (stateFile !== undefined) writeFileSync(stateFile, `${JSON.stringify({ lastSequence: formatter.lastAnswered })}\n`);
    },
  });
  const stop = (): void => formatter.stop();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  signal?.addEventListener("abort", stop, { once: true });
  line({ event: "following", url, name, since: since ?? 0 });
  try {
    await formatter.run();
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
  return 0;
}

/** A safe file name for an object path under the inputs folder ("." and ".." segments replaced). */
function inputFile(dir: string, path: string): string {
  return join(dir, ...path.split("/").map((s) => (s === "." || s === ".." || s === "" ? "_" : s)));
}

async function runProgram(program: string, task: DeriveTask, inputs: readonly FormatterInput[], timeoutMs: number, env: NodeJS.ProcessEnv): Promise<BuildResult> {
  const dir = mkdtempSync(join(tmpdir(), "condcast-formatter-"));
  try {
    const inputDir = join(dir, "inputs");
    const files: string[] = [];
    for (const input of inputs) {
      const file = inputFile(inputDir, input.path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, input.payload);
      files.push(file);
    }
    const output = join(dir, "output");
    const taskFile = join(dir, "task.json");
    writeFileSync(taskFile, JSON.stringify(task));
    const childEnv: NodeJS.ProcessEnv = {
      ...env,
      CONDCAST_INPUT_DIR: inputDir,
      CONDCAST_INPUTS: files.join("\n"),
      CONDCAST_OUTPUT: output,
      CONDCAST_OUTPUT_PATH: task.output,
      CONDCAST_VALID_FROM: String(task.validFrom),
      CONDCAST_VALID_UNTIL: String(task.validUntil),
      CONDCAST_TASK: taskFile,
      CONDCAST_CHANGESET: task.changeset,
      CONDCAST_KEYTABLE: task.keytable,
      CONDCAST_DERIVATION: task.derivation,
      CONDCAST_FORMATTER: task.formatter,
      CONDCAST_SEQUENCE: String(task.sequence),
    };
    const { code, stderr, timedOut } = await new Promise<{ code: number | null; stderr: string; timedOut: boolean }>((resolve, reject) => {
      const child = spawn("/bin/sh", ["-c", program], { cwd: dir, env: childEnv, stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      let timedOut = false;
      child.stderr.on("data", (chunk: Buffer) => {
        err = (err + chunk.toString("utf8")).slice(-STDERR_KEPT);
      });
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, timeoutMs);
      child.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.on("close", (c) => {
        clearTimeout(timer);
        resolve({ code: c, stderr: err.trim(), timedOut });
      });
    });
    if (timedOut) throw new Error(`${program} did not finish within ${timeoutMs} ms (killed)`);
    if (code !== 0) throw new Error(`${program} exited with ${code === null ? "a signal" : `code ${code}`}${stderr === "" ? "" : `: ${stderr}`}`);
    let payload: Buffer;
    try {
      payload = readFileSync(output);
    } catch {
      throw new Error(`${program} exited 0 but wrote no output ($CONDCAST_OUTPUT)`);
    }
    if (payload.length === 0) throw new Error(`${program} wrote an empty output`);
    return { payload, fileName: `${task.output.split("/").pop()}.dat` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
