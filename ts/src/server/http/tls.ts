// The repository's (or a cache's) HTTPS certificate: read from files at start and again on demand
// (SIGHUP in `condcast serve`), swapped into the running server with setSecureContext so
// connections already open keep theirs and new ones get the new certificate.
import { readFileSync } from "node:fs";
import type { Server as HttpsServer } from "node:https";

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** The PEM certificate chain and key; throws naming the file that cannot be read. */
export function readTls(files: TlsFiles): { cert: Buffer; key: Buffer } {
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`--tls-${what} ${file}: ${(error as Error).message}`);
    }
  };
  return { cert: read(files.certFile, "cert"), key: read(files.keyFile, "key") };
}

/** Reads the files again and installs them; a bad pair throws and the old certificate stays. */
export function reloadTls(server: HttpsServer, files: TlsFiles): void {
  server.setSecureContext(readTls(files));
}
