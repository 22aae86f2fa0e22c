// The shared CLI contract (spec/CLI.md): every flag also from a CONDCAST_* environment variable.
import { parseArgs, type ParseArgsConfig } from "node:util";

export class UsageError extends Error {}

type FlagSpec = { readonly type: "string" | "boolean"; readonly multiple?: boolean };

/** Flags shared by send and recv. */
export const COMMON_FLAGS = {
  group: { type: "string" },
  port: { type: "string" },
  interface: { type: "string" },
  ttl: { type: "string" },
  "datagram-size": { type: "string" },
  rate: { type: "string" },
  "key-file": { type: "string" },
  "key-id": { type: "string" },
  help: { type: "boolean" },
} as const satisfies Record<string, FlagSpec>;

/** CONDCAST_DATAGRAM_SIZE for --datagram-size, and so on. */
export function envName(flag: string): string {
  return `CONDCAST_${flag.toUpperCase().replaceAll("-", "_")}`;
}

export interface ParsedArgs {
  readonly values: Record<string, string | string[] | boolean | undefined>;
  readonly positionals: string[];
}

/**
 * Parses argv against `flags`; a flag not given on the command line falls back to its environment
 * variable (a repeatable flag's variable holds one value per line).
 */
export function parseFlags(args: string[], flags: Record<string, FlagSpec>, env: NodeJS.ProcessEnv): ParsedArgs {
  let parsed;
  try {
    parsed = parseArgs({ args, options: flags as ParseArgsConfig["options"], allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const values: Record<string, string | string[] | boolean | undefined> = { ...parsed.values };
  for (const [name, spec] of Object.entries(flags)) {
    if (values[name] !== undefined || spec.type === "boolean") continue;
    const fromEnv = env[envName(name)];
    if (fromEnv === undefined || fromEnv === "") continue;
    values[name] = spec.multiple ? fromEnv.split("\n").filter((line) => line.length > 0) : fromEnv;
  }
  return { values, positionals: parsed.positionals };
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
}

/** A string flag that must be given. */
export function requiredFlag(args: ParsedArgs, name: string): string {
  const value = stringFlag(args, name);
  if (value === undefined) throw new UsageError(`--${name} is required`);
  return value;
}

/** An integer flag within [min, max]; `fallback` when absent. */
export function intFlag(args: ParsedArgs, name: string, fallback: number, min: number, max: number): number;
export function intFlag(args: ParsedArgs, name: string, fallback: undefined, min: number, max: number): number | undefined;
export function intFlag(args: ParsedArgs, name: string, fallback: number | undefined, min: number, max: number): number | undefined {
  const text = stringFlag(args, name);
  if (text === undefined) return fallback;
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`--${name} must be an integer, got ${JSON.stringify(text)}`);
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new UsageError(`--${name} must be in [${min}, ${max}], got ${text}`);
  return value;
}

/** A number flag (may be fractional) >= min. */
export function numberFlag(args: ParsedArgs, name: string, fallback: number, min: number): number {
  const text = stringFlag(args, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < min) throw new UsageError(`--${name} must be a number >= ${min}, got ${JSON.stringify(text)}`);
  return value;
}

export function listFlag(args: ParsedArgs, name: string): string[] {
  const value = args.values[name];
  if (Array.isArray(value)) return value;
  return typeof value === "string" ? [value] : [];
}
