// Shared JSON schemas and the error body (errors are data: {statusCode, error, message}).
import { STATUS_CODES } from "node:http";

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

export function errorBody(statusCode: number, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? "Error", message };
}

export const errorSchema = {
  type: "object",
  properties: { statusCode: { type: "integer" }, code: { type: "string" }, error: { type: "string" }, message: { type: "string" } },
  required: ["statusCode", "error", "message"],
} as const;

/** Error answers of every object route. */
export const errorResponses = {
  200: { description: "the payload (bytes)", type: "null" },
  206: { description: "one range, or several as multipart/byteranges", type: "null" },
  303: { description: "see /download/<uuid>", type: "null" },
  304: { description: "If-None-Match named this object", type: "null" },
  400: errorSchema,
  404: errorSchema,
  416: errorSchema,
  503: errorSchema,
} as const;

/** Request headers read by object routes. */
export const timeHeaders = {
  type: "object",
  properties: {
    "if-none-match": { type: "string" },
    "if-not-after": { type: "string" },
    "if-not-before": { type: "string" },
    range: { type: "string" },
  },
} as const;
