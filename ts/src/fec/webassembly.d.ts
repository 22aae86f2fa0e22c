// The part of the WebAssembly JavaScript API the SIMD kernel uses. Node has it as a global, but its
// types live in TypeScript's DOM library, which this Node-only project does not load.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
  class Instance {
    constructor(module: Module, imports: Record<string, unknown>);
    readonly exports: Record<string, unknown>;
  }
}
