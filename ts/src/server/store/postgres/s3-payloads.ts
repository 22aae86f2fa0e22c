// Payloads in an S3-compatible bucket, one object per condcast object under `<prefix>objects/<id>`.
// A put is done only once the store verified the bytes: the request carries Content-MD5 (the store
// refuses a body that does not match it) and the ETag it answers must be that MD5.
import { createHash } from "node:crypto";
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, CreateBucketCommand, HeadBucketCommand, S3Client, NoSuchKey } from "@aws-sdk/client-s3";
import { StoreUnavailable } from "../storage.js";

export interface S3Options {
  readonly endpoint: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region?: string | undefined;
  /** Key prefix of this repository's payloads (several repositories may share a bucket). */
  readonly prefix?: string | undefined;
  /** Per-request time limit. */
  readonly timeoutMs?: number | undefined;
}

export class S3Payloads {
  private readonly client: S3Client;
  private readonly prefix: string;

  constructor(private readonly options: S3Options) {
    this.prefix = options.prefix ?? "";
    this.client = new S3Client({
      endpoint: options.endpoint,
      region: options.region ?? "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
      maxAttempts: 2,
      // The SDK's default would add CRC32 trailers; Content-MD5 is the check every S3 server knows.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      requestHandler: { requestTimeout: options.timeoutMs ?? 10_000, connectionTimeout: 2_000 },
    });
  }

  /** Creates the bucket when it does not exist. */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.options.bucket }));
    } catch {
      await this.client.send(new CreateBucketCommand({ Bucket: this.options.bucket })).catch((error: unknown) => {
        if ((error as { name?: string }).name !== "BucketAlreadyOwnedByYou") throw unavailable(error, "create the bucket");
      });
    }
  }

  private key(id: string): string {
    return `${this.prefix}objects/${id}`;
  }

  async put(id: string, payload: Uint8Array): Promise<void> {
    const md5 = createHash("md5").update(payload).digest();
    let etag: string | undefined;
    try {
      const answer = await this.client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: this.key(id), Body: payload, ContentLength: payload.length, ContentMD5: md5.toString("base64") }));
      etag = answer.ETag;
    } catch (error) {
      throw unavailable(error, `store the payload of ${id}`);
    }
    if (etag === undefined || etag.replaceAll('"', "") !== md5.toString("hex")) {
      await this.remove(id).catch(() => undefined);
      throw new StoreUnavailable(`the object store answered ETag ${etag ?? "(none)"} for the payload of ${id}, not its MD5 ${md5.toString("hex")}`);
    }
  }

  /** The payload; undefined when the bucket has none under that id. */
  async get(id: string): Promise<Buffer | undefined> {
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.key(id) }));
      return Buffer.from(await answer.Body!.transformToByteArray());
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === "NoSuchKey") return undefined;
      throw unavailable(error, `read the payload of ${id}`);
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.key(id) }));
    } catch (error) {
      throw unavailable(error, `delete the payload of ${id}`);
    }
  }

  /** Every payload id held, with when it was written. */
  async *list(): AsyncGenerator<{ id: string; modified: number }> {
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: `${this.prefix}objects/`, ContinuationToken: token }));
      for (const o of page.Contents ?? []) yield { id: o.Key!.slice(this.prefix.length + "objects/".length), modified: o.LastModified?.getTime() ?? 0 };
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  close(): void {
    this.client.destroy();
  }
}

function unavailable(error: unknown, what: string): StoreUnavailable {
  const e = error as { name?: string; message?: string; code?: string };
  return new StoreUnavailable(`the object store could not ${what}: ${e.name ?? e.code ?? "error"}: ${e.message ?? String(error)}`);
}
