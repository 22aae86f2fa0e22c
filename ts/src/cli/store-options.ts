// The PostgreSQL + S3 repository backend as commands name it: --pg-url, --pg-schema, --s3-endpoint,
// --s3-bucket, --s3-prefix, and the S3 keys from the environment (never on a command line). Shared by
// `condcast serve` and `condcast copy`.
import type { PgStoreOptions } from "../server/store/postgres/pg-store.js";
import { UsageError, stringFlag, type ParsedArgs } from "./options.js";

export const PG_STORE_FLAGS = {
  "pg-url": { type: "string" },
  "pg-schema": { type: "string" },
  "s3-endpoint": { type: "string" },
  "s3-bucket": { type: "string" },
  "s3-prefix": { type: "string" },
} as const;

export function pgStoreOptions(args: ParsedArgs, url: string, env: NodeJS.ProcessEnv): PgStoreOptions {
  if (!/^postgres(ql)?:\/\//.test(url)) throw new UsageError(`--pg-url must be a postgres:// URL, got ${JSON.stringify(url)}`);
  const endpoint = stringFlag(args, "s3-endpoint");
  const bucket = stringFlag(args, "s3-bucket");
  if (endpoint === undefined || bucket === undefined) throw new UsageError("--pg-url needs --s3-endpoint and --s3-bucket");
  const schema = stringFlag(args, "pg-schema");
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new UsageError(`--pg-schema must be a lower-case identifier, got ${JSON.stringify(schema)}`);
  const accessKeyId = env.CONDCAST_S3_ACCESS_KEY;
  const secretAccessKey = env.CONDCAST_S3_SECRET_KEY;
  if (accessKeyId === undefined || secretAccessKey === undefined) throw new UsageError("--pg-url needs CONDCAST_S3_ACCESS_KEY and CONDCAST_S3_SECRET_KEY in the environment");
  return { url, schema, s3: { endpoint, bucket, accessKeyId, secretAccessKey, prefix: stringFlag(args, "s3-prefix") } };
}
