// Which methods a URL serves, for 405 answers and their Allow header. The catch-all object routes
// (/*: GET, HEAD, POST, PUT, DELETE) would take any URL, PUT /health or POST /latest/... among them, for
// an object path; a URL that one of the other routes matches is one of the API's own resources and
// serves only the methods registered for it there (as spec/openapi.yaml documents).
import type { FastifyReply, FastifyRequest } from "fastify";
import { errorBody } from "./schemas.js";

declare module "fastify" {
  interface FastifyInstance {
    /** The methods each URL serves (filled by buildServer from every route registered). */
    methodTable: MethodTable;
  }
}

const CATCH_ALL = "/*";

export class MethodTable {
  /** Object paths: whatever no other route matches. */
  private readonly objectMethods = new Set<string>();
  private readonly own: { pattern: RegExp; methods: Set<string> }[] = [];

  /** Adds a route (fastify URL syntax: static, :param, trailing *). */
  add(method: string, url: string): void {
    if (url === CATCH_ALL) {
      this.objectMethods.add(method);
      this.byPath.clear();
      return;
    }
    const source = url.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:\w+/g, "[^/]+").replace(/\*/g, ".*");
    let entry = this.own.find((e) => e.pattern.source === `^${source}$`);
    if (entry === undefined) this.own.push((entry = { pattern: new RegExp(`^${source}$`), methods: new Set() }));
    entry.methods.add(method);
    this.byPath.clear();
  }

  /**
   * The methods by request path, remembered: every object read asks (the catch-all routes check the
   * method), and testing each route's pattern cost about 8 µs of a 1 KB hit. Bounded; cleared by add().
   */
  private readonly byPath = new Map<string, { allow: string; methods: ReadonlySet<string>; own: boolean }>();

  /** The Allow header for a request URL. */
  allowed(url: string): string {
    return this.lookup(url).allow;
  }

  /** True when the URL serves the method. */
  serves(url: string, method: string): boolean {
    return this.lookup(url).methods.has(method);
  }

  /** True when no route but the catch-all object routes matches the URL (an object path). */
  isObjectPath(url: string): boolean {
    return !this.lookup(url).own;
  }

  private lookup(url: string): { allow: string; methods: ReadonlySet<string>; own: boolean } {
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    let entry = this.byPath.get(path);
    if (entry === undefined) {
      const methods = new Set<string>();
      for (const { pattern, methods: m } of this.own) if (pattern.test(path)) for (const x of m) methods.add(x);
      const served = methods.size > 0 ? methods : new Set(this.objectMethods);
      entry = { allow: [...served].join(", "), methods: served, own: methods.size > 0 };
      if (path.length <= MAX_REMEMBERED_PATH) {
        if (this.byPath.size >= MAX_REMEMBERED_PATHS) this.byPath.clear();
        this.byPath.set(path, entry);
      }
    }
    return entry;
  }
}

const MAX_REMEMBERED_PATHS = 4096;
const MAX_REMEMBERED_PATH = 512;

/** Answers 405 with Allow. */
export function methodNotAllowed(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const allow = request.server.methodTable.allowed(request.raw.url!);
  return reply.code(405).header("Allow", allow).send(errorBody(405, `${request.method} is not served for ${request.raw.url!.split("?")[0]} (allowed: ${allow})`));
}

/** For the catch-all object routes: answers 405 and returns true when the URL does not serve the method. */
export function refusedMethod(request: FastifyRequest, reply: FastifyReply): boolean {
  if (request.server.methodTable.serves(request.raw.url!, request.method)) return false;
  methodNotAllowed(request, reply);
  return true;
}
