// A promise settled from outside: what a caller hands the Sender as OutgoingObject.durable and settles
// once the object is stored (or refused).

export interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(reason: unknown): void;
}

/** A fresh Deferred; its rejection is handled here, whether or not anyone awaits it. */
export function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<void>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
