// Every implementation plugs in the same way: a command for `send` and one for `recv`, taking the
// shared flags of spec/CLI.md and printing the shared JSON lines, and one for `fec-bench` (bench/).
import { existsSync } from "node:fs";
import { join } from "node:path";

export interface Implementation {
  readonly name: string;
  readonly send: readonly string[];
  readonly recv: readonly string[];
  /** FEC encode/decode speed of one block, one JSON line (--symbol-size, --block, --parity, --seconds). */
  readonly fecBench: readonly string[];
}

export function implementations(root: string): Implementation[] {
  return [
    { name: "ts", send: [join(root, "bin/condcast"), "send"], recv: [join(root, "bin/condcast"), "recv"], fecBench: [join(root, "bin/condcast"), "fec-bench"] },
    { name: "cpp", send: [join(root, "cpp/build/condcast-send")], recv: [join(root, "cpp/build/condcast-recv")], fecBench: [join(root, "cpp/build/condcast-fec-bench")] },
    {
      name: "java",
      send: [join(root, "java/bin/condcast-java"), "send"],
      recv: [join(root, "java/bin/condcast-java"), "recv"],
      fecBench: [join(root, "java/bin/condcast-java"), "fec-bench"],
    },
  ];
}

/** Why an implementation cannot run here (its programs are not built), or null. */
export function missing(impl: Implementation): string | null {
  for (const command of [impl.send[0]!, impl.recv[0]!]) if (!existsSync(command)) return `${command} is not built`;
  return null;
}
