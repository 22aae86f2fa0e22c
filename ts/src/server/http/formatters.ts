// /browse and /latest listings in the CCDB's three formats (JSONFormatter, XMLFormatter, TextFormatter).
import type { ObjectRecord } from "../model.js";

export type ListingFormat = "json" | "xml" | "text";

/** An epoch-ms time as ISO 8601; times any 53-bit integer can be but a Date cannot hold (past the year 275760) say so. */
function isoTime(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? "beyond the year 275760" : date.toISOString();
}

/** The format an Accept header or ?Accept= value asks for (text/plain by default, as the CCDB). */
export function listingFormat(accept: string | undefined): ListingFormat {
  const a = (accept ?? "").toLowerCase();
  if (a.includes("application/json") || a.includes("text/json")) return "json";
  if (a.includes("text/xml") || a.includes("application/xml")) return "xml";
  return "text";
}

export const CONTENT_TYPES: Record<ListingFormat, string> = {
  json: "application/json; charset=utf-8",
  xml: "text/xml; charset=utf-8",
  text: "text/plain; charset=utf-8",
};

/** One object in the JSON listing, with both the old and the new CCDB key sets. */
export function jsonEntry(r: ObjectRecord): Record<string, unknown> {
  const m = r.meta;
  return {
    path: m.path,
    createTime: m.created,
    lastModified: r.lastModified,
    Created: m.created,
    "Last-Modified": r.lastModified,
    id: r.id,
    validFrom: m.validFrom,
    validUntil: m.validUntil,
    initialValidity: r.initialValidity,
    MD5: m.md5,
    fileName: m.fileName,
    contentType: m.contentType,
    size: r.size,
    ETag: `"${r.id}"`,
    "Valid-From": m.validFrom,
    "Valid-Until": m.validUntil,
    InitialValidityLimit: r.initialValidity,
    "Content-MD5": m.md5,
    "Content-Disposition": `inline;filename="${m.fileName}"`,
    "Content-Type": m.contentType,
    "Content-Length": r.size,
    ...m.metadata,
    replicas: [`/download/${r.id}`],
  };
}

function xmlEscape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

export function formatListing(format: ListingFormat, objects: readonly ObjectRecord[], folders: readonly string[]): string {
  switch (format) {
    case "json":
      return JSON.stringify({ objects: objects.map(jsonEntry), subfolders: folders });
    case "xml": {
      const lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<!DOCTYPE document [",
        "<!ELEMENT document (objects, folders)>",
        "<!ELEMENT objects (object*)>",
        "<!ELEMENT object (metadata*, replica*)>",
        "<!ATTLIST object id CDATA #REQUIRED validFrom CDATA #REQUIRED validUntil CDATA #REQUIRED initialValidity CDATA #REQUIRED created CDATA #REQUIRED lastModified CDATA #REQUIRED md5 CDATA #REQUIRED fileName CDATA #REQUIRED contentType CDATA #REQUIRED size CDATA #REQUIRED path CDATA #REQUIRED>",
        "<!ELEMENT metadata EMPTY>",
        "<!ATTLIST metadata key CDATA #REQUIRED value CDATA #REQUIRED>",
        "<!ELEMENT replica EMPTY>",
        "<!ATTLIST replica addr CDATA #REQUIRED>",
        "<!ELEMENT folders (path*)>",
        "<!ELEMENT path EMPTY>",
        "<!ATTLIST path name CDATA #REQUIRED>",
        "]>",
        "<document>",
        "<objects>",
      ];
      for (const r of objects) {
        const m = r.meta;
        lines.push(
          `<object id="${r.id}" validFrom="${m.validFrom}" validUntil="${m.validUntil}" initialValidity="${r.initialValidity}" created="${m.created}" lastModified="${r.lastModified}" md5="${m.md5}" fileName="${xmlEscape(m.fileName)}" contentType="${xmlEscape(m.contentType)}" size="${r.size}" path="${xmlEscape(m.path)}">`,
        );
        for (const [k, v] of Object.entries(m.metadata)) lines.push(`<metadata key="${xmlEscape(k)}" value="${xmlEscape(v)}"/>`);
        lines.push(`<replica addr="/download/${r.id}"/>`, "</object>");
      }
      lines.push("</objects>", "<folders>", ...folders.map((f) => `<path name="${xmlEscape(f)}"/>`), "</folders>", "</document>");
      return `${lines.join("\n")}\n`;
    }
    case "text": {
      const blocks = objects.map((r) => {
        const m = r.meta;
        const lines = [
          `ID: ${r.id}`,
          `Path: ${m.path}`,
          `Validity: ${m.validFrom} - ${m.validUntil} (${isoTime(m.validFrom)} - ${isoTime(m.validUntil)})`,
          `Initial validity limit: ${r.initialValidity}`,
          `Created: ${m.created} (${isoTime(m.created)})`,
          `Last modified: ${r.lastModified}`,
          `Original file: ${m.fileName}, size: ${r.size}, md5: ${m.md5}, content type: ${m.contentType}`,
          "Metadata:",
          ...Object.entries(m.metadata).map(([k, v]) => `  ${k} = ${v}`),
          "Replicas:",
          `  0 /download/${r.id}`,
        ];
        return lines.join("\n");
      });
      return `${blocks.join("\n\n")}${blocks.length > 0 ? "\n\n" : ""}Subfolders:\n${folders.map((f) => `  ${f}\n`).join("")}`;
    }
  }
}
