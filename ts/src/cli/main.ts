#!/usr/bin/env node
// condcast command line: `condcast send`, `condcast recv`, `condcast serve`.
import { runRecv, RECV_USAGE } from "./recv.js";
import { runSend, SEND_USAGE } from "./send.js";
import { runServe, SERVE_USAGE } from "./serve.js";
import { FEC_BENCH_USAGE, runFecBench } from "./fec-bench.js";
import { CHANGESET_USAGE, KEYS_USAGE, RUNS_USAGE, runChangeset, runKeys, runRuns } from "./keys.js";
import { CACHES_USAGE, runCaches } from "./caches.js";
import { CONSUMERS_USAGE, runConsumers } from "./consumers.js";
import { FORMATTER_USAGE, runFormatter } from "./formatter.js";
import { ISSUER_USAGE, TOKEN_USAGE, runIssuer, runToken } from "./issuer.js";
import { UsageError } from "./options.js";
import { PRODUCE_USAGE, runProduce } from "./produce.js";
import { COPY_USAGE, runCopy } from "./copy.js";

const USAGE = `usage: condcast <command> [options]

commands:
  send   send files as objects over multicast
  recv   receive objects and print them as JSON lines
  serve  the CCDB REST service (cache or repository)
  fec-bench  FEC encode/decode speed of one block (JSON line)
  changeset  open, fill, commit or abort a changeset on a repository
  keys   list, show, diff and wait for keys on a repository or a cache
  runs   start a run (its key's objects multicast again) and show runs on a repository
  caches the farm view of a repository: the caches that report to it, and which hold which keys
  consumers  declare on a cache what a local process reads, leave, list the declarations
  formatter  build derived objects for a repository's commits by running a program per task
  produce  feed a repository synthetic calibration objects at a set rate, then stop
  copy     copy an embedded repository to PostgreSQL + S3 and verify the copy
  issuer a local token issuer (key pair, JWKS on loopback) for tests and demos
  token  print an access token signed by the local issuer

${SEND_USAGE}

${RECV_USAGE}

${SERVE_USAGE}

${FEC_BENCH_USAGE}

${CHANGESET_USAGE}

${KEYS_USAGE}

${RUNS_USAGE}

${CACHES_USAGE}

${CONSUMERS_USAGE}

${FORMATTER_USAGE}

${PRODUCE_USAGE}

${COPY_USAGE}

${ISSUER_USAGE}

${TOKEN_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "send":
      return runSend(rest, process.env, process.stdout);
    case "recv":
      return runRecv(rest, process.env, process.stdout, process.stderr);
    case "serve":
      return runServe(rest, process.env, process.stdout);
    case "fec-bench":
      return runFecBench(rest, process.env, process.stdout);
    case "changeset":
      return runChangeset(rest, process.env, process.stdout);
    case "keys":
      return runKeys(rest, process.env, process.stdout);
    case "runs":
      return runRuns(rest, process.env, process.stdout);
    case "caches":
      return runCaches(rest, process.env, process.stdout);
    case "consumers":
      return runConsumers(rest, process.env, process.stdout);
    case "formatter":
      return runFormatter(rest, process.env, process.stdout);
    case "produce":
      return runProduce(rest, process.env, process.stdout);
    case "copy":
      return runCopy(rest, process.env, process.stdout);
    case "issuer":
      return runIssuer(rest, process.env, process.stdout);
    case "token":
      return runToken(rest, process.env, process.stdout);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`condcast: ${error.message}\n(see condcast --help)\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`condcast: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  },
);
