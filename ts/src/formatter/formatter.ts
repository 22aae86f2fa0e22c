// The formatter API (docs/KEYS.md "Derived objects and formatters"): follow a repository's change
// stream under a name, build each task's derived object from its inputs, upload it into the task's
// changeset and answer. `condcast formatter --exec` is this with an external program as `build`.
import { request } from "undici";
import { multipartUpload } from "../server/http/multipart-upload.js";
import type { DeriveTask, TaskInput } from "../server/derive/coordinator.js";

export type { DeriveTask, TaskInput };

export interface FormatterInput extends TaskInput {
  readonly payload: Uint8Array;
}

/** What a build makes: the derived object's payload (uploaded at the task's output path). */
export interface BuildResult {
  readonly payload: Uint8Array;
  readonly fileName?: string | undefined;
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

export interface FormatterOptions {
  /** The repository's base URL. */
  readonly url: string;
  /** The formatter's name, as the derivations name it. */
  readonly name: string;
  /** Tasks above this sequence are delivered (the last one this formatter answered; default 0 = all pending). */
  readonly since?: number | undefined;
  /** Builds one derived object; a throw is answered as the task's failure with its message. */
  readonly build: (task: DeriveTask, inputs: readonly FormatterInput[]) => Promise<BuildResult>;
  /** After each answer (built or failed): what a formatter keeps to resume from after a restart. */
  readonly onAnswered?: ((task: DeriveTask, outcome: { objectId: string } | { error: string }) => void) | undefined;
  /** Wait before reconnecting after the stream ended or failed, ms (default 500). */
  readonly reconnectMs?: number | undefined;
  /** Headers sent with every request, asked for each one (a bearer token that may be refreshed). */
  readonly headers?: (() => Record<string, string>) | undefined;
}

export class Formatter {
  private stopped = false;
  private readonly abort = new AbortController();
  /** The highest sequence announced to this process (a reconnect resumes above it). */
  private lastSeen: number;
  /** The highest sequence answered. */
  lastAnswered: number;
  private queue: Promise<void> = Promise.resolve();
  private readonly base: string;

  private extraHeaders(): Record<string, string> {
    return this.options.headers?.() ?? {};
  }

  constructor(private readonly options: FormatterOptions) {
    this.lastSeen = this.lastAnswered = options.since ?? 0;
    this.base = options.url.replace(/\/+$/, "");
  }

  /** Follows the stream until stop(); reconnects (from the last sequence seen) when it ends. */
  async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.follow();
      } catch (error) {
        if (this.stopped) break;
        process.emitWarning(`condcast formatter ${this.options.name}: stream: ${(error as Error).message}`);
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, this.options.reconnectMs ?? 500));
    }
    await this.queue;
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
  }

  private async follow(): Promise<void> {
    const url = `${this.base}/changes/stream?formatter=${encodeURIComponent(this.options.name)}&since=${this.lastSeen}`;
    const response = await request(url, { signal: this.abort.signal, headers: { ...this.extraHeaders(), accept: "text/event-stream" }, bodyTimeout: 0 });
    if (response.statusCode !== 200) throw new Error(`GET ${url} answered ${response.statusCode}: ${await response.body.text()}`);
    let buffered = "";
    for await (const chunk of response.body) {
      buffered += (chunk as Buffer).toString("utf8");
      if (buffered.length > 64 * 1024 * 1024) throw new Error("an event of more than 64 MiB");
      let end: number;
      while ((end = buffered.indexOf("\n\n")) >= 0) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        this.onEvent(event);
      }
    }
  }

  /** One SSE event: comments (heartbeats) are skipped; a `derive` event is queued. */
  private onEvent(text: string): void {
    let type = "message";
    let data = "";
    for (const line of text.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") type = value;
      else if (field === "data") data += data === "" ? value : `\n${value}`;
    }
    if (type !== "derive" || data === "") return;
    const task = JSON.parse(data) as DeriveTask;
    if (task.sequence <= this.lastSeen) return;
    this.lastSeen = task.sequence;
    this.queue = this.queue.then(() => this.handle(task));
  }

  private async handle(task: DeriveTask): Promise<void> {
    let outcome: { objectId: string } | { error: string };
    try {
      const inputs: FormatterInput[] = [];
      for (const input of task.inputs) inputs.push({ ...input, payload: await this.readInput(task.changeset, input.id) });
      const built = await this.options.build(task, inputs);
      outcome = { objectId: await this.upload(task, built) };
    } catch (error) {
      outcome = { error: (error as Error).message || String(error) };
    }
    try {
      await this.answer(task, outcome);
      this.lastAnswered = Math.max(this.lastAnswered, task.sequence);
      this.options.onAnswered?.(task, outcome);
    } catch (error) {
      process.emitWarning(`condcast formatter ${this.options.name}: answer to task ${task.sequence}: ${(error as Error).message}`);
    }
  }

  /** An input as the changeset sees it (staged objects are invisible elsewhere). */
  private async readInput(changeset: string, id: string): Promise<Uint8Array> {
    const response = await request(`${this.base}/changesets/${changeset}/objects/${id}`, { signal: this.abort.signal, headers: this.extraHeaders() });
    const body = new Uint8Array(await response.body.arrayBuffer());
    if (response.statusCode !== 200) throw new Error(`input ${id} could not be read: ${response.statusCode} ${Buffer.from(body).toString("utf8").slice(0, 500)}`);
    return body;
  }

  /** The ordinary upload, into the task's changeset, at its output path. */
  async upload(task: DeriveTask, built: BuildResult, path: string = task.output): Promise<string> {
    const meta = Object.entries({ derivation: task.derivation, formatter: this.options.name, ...built.metadata })
      .map(([k, v]) => `/${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .join("");
    const url = `${this.base}/${path.split("/").map(encodeURIComponent).join("/")}/${task.validFrom}/${task.validUntil}${meta}`;
    const form = multipartUpload("send", built.fileName ?? `${path.split("/").pop()}.dat`, built.payload);
    const response = await request(url, { method: "POST", body: form.body, headers: { ...this.extraHeaders(), "content-type": form.contentType, "condcast-changeset": task.changeset }, signal: this.abort.signal });
    const text = await response.body.text();
    if (response.statusCode !== 201) throw new Error(`upload of the derived object answered ${response.statusCode}: ${text.slice(0, 500)}`);
    return String(response.headers.etag ?? "").replaceAll('"', "");
  }

  /** Tells the repository how the task ended. */
  async answer(task: DeriveTask, outcome: { objectId: string } | { error: string }): Promise<void> {
    const response = await request(`${this.base}/derive/tasks/${task.sequence}`, {
      method: "POST",
      headers: { ...this.extraHeaders(), "content-type": "application/json" },
      body: JSON.stringify({ formatter: this.options.name, ...outcome }),
      signal: this.abort.signal,
    });
    const text = await response.body.text();
    if (response.statusCode !== 204) throw new Error(`answered ${response.statusCode}: ${text.slice(0, 500)}`);
  }
}
