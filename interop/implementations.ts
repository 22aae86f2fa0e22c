// Every implementation plugs in the same way: a command for `send` and one for `recv`, taking the
// shared flags of spec/CLI.md and printing the shared JSON lines.
import { existsSync } from "node:fs";
import { join } from "node:path";

export interface Implementation {
  readonly name: string;
  readonly send: readonly string[];
  readonly recv: readonly string[];
}

export function implementations(root: string): Implementation[] {
  return [
    { name: "ts", send: [join(root, "bin/condcast"), "send"], recv: [join(root, "bin/condcast"), "recv"] },
    { name: "cpp", send: [join(root, "cpp/build/condcast-send")], recv: [join(root, "cpp/build/condcast-recv")] },
    { name: "java", send: [join(root, "java/bin/condcast-java"), "send"], recv: [join(root, "java/bin/condcast-java"), "recv"] },
  ];
}

/** Why an implementation cannot run here (its programs are not built), or null. */
export function missing(impl: Implementation): string | null {
  for (const command of [impl.send[0]!, impl.recv[0]!]) if (!existsSync(command)) return `${command} is not built`;
  return null;
}
