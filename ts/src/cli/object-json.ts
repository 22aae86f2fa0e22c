// The JSON line describing one object: what `recv` prints per completed object and `send` per sent
// one (spec/CLI.md); metadata keys in wire order (by UTF-8 bytes). The interop runner compares these lines across languages.
import type { CommitInfo } from "../wire/control.js";
import { compareUtf8, type ObjectMetadata } from "../wire/object.js";

export interface ObjectLine {
  id: string;
  senderId: string;
  sequence: number;
  path: string;
  size: number;
  md5: string;
  validFrom: number;
  validUntil: number;
  created: number;
  contentType: string;
  fileName: string;
  /** In wire order (ascending UTF-8 bytes). */
  metadata: [string, string][];
  /** Only for an object of a changeset (SPEC 11). */
  changeset?: string;
}

export function objectLine(id: string, senderId: string, sequence: number, meta: ObjectMetadata, size: number): ObjectLine {
  return {
    id,
    senderId,
    sequence,
    path: meta.path,
    size,
    md5: meta.md5,
    validFrom: meta.validFrom,
    validUntil: meta.validUntil,
    created: meta.created,
    contentType: meta.contentType,
    fileName: meta.fileName,
    metadata: Object.keys(meta.metadata).sort(compareUtf8).map((k) => [k, meta.metadata[k]!]),
    ...(meta.changeset === undefined ? {} : { changeset: meta.changeset }),
  };
}

/**
 * The line as JSON text. Written by hand for `metadata`: a JS object would put integer-like keys
 * ("9", "10") first, and CLI.md requires wire order.
 */
export function objectLineJson(line: ObjectLine): string {
  const { metadata, ...fields } = line;
  const entries = metadata.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",");
  return `${JSON.stringify(fields).slice(0, -1)},"metadata":{${entries}}}`;
}

/**
 * A Commit's fields in the order of recv's `commit` event and send's commit line (spec/CLI.md), whatever
 * order the CommitInfo was built in.
 */
export function commitFields(c: CommitInfo): CommitInfo {
  return {
    senderId: c.senderId,
    sequence: c.sequence,
    keytable: c.keytable,
    key: c.key,
    parentKey: c.parentKey,
    changeset: c.changeset,
    objectCount: c.objectCount,
    objectIds: c.objectIds,
    removedPaths: c.removedPaths,
    committedAt: c.committedAt,
    aborted: c.aborted,
  };
}
