#!/usr/bin/env python3
"""An example formatter for `condcast formatter --exec` (docs/KEYS.md "Derived objects and formatters").

It builds a derived object from a task's inputs: one text line per input ("<path> <size> <md5>"),
then a line with the total size and the MD5 of all input payloads concatenated in path order.
Everything it needs comes from the environment; it writes the result to $CONDCAST_OUTPUT. A non-zero
exit (here: an input whose MD5 does not match the task's) makes the commit fail, naming the formatter.

Run it against a repository (one line):
  bin/condcast formatter --url http://127.0.0.1:8080 --name summary --exec "python3 examples/formatters/summary.py"
"""
import hashlib
import json
import os
import sys


def main() -> int:
    with open(os.environ["CONDCAST_TASK"], encoding="utf-8") as f:
        task = json.load(f)
    files = [p for p in os.environ["CONDCAST_INPUTS"].split("\n") if p]
    if len(files) != len(task["inputs"]):
        print(f"expected {len(task['inputs'])} input files, got {len(files)}", file=sys.stderr)
        return 1
    lines = [f"derivation {task['derivation']} of changeset {task['changeset']}"]
    whole = hashlib.md5()
    total = 0
    for meta, file in zip(task["inputs"], files):
        with open(file, "rb") as f:
            data = f.read()
        md5 = hashlib.md5(data).hexdigest()
        if md5 != meta["md5"]:
            print(f"input {meta['path']}: MD5 {md5}, the task says {meta['md5']}", file=sys.stderr)
            return 1
        whole.update(data)
        total += len(data)
        lines.append(f"{meta['path']} {len(data)} {md5}")
    lines.append(f"total {total} {whole.hexdigest()}")
    with open(os.environ["CONDCAST_OUTPUT"], "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
