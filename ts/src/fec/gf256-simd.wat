;; GF(2^8) multiply-accumulate with WebAssembly SIMD (the split-nibble method): for a coefficient c,
;; c·x = T_lo[x & 15] XOR T_hi[x >> 4], where T_lo[n] = c·n and T_hi[n] = c·(n << 4) are 16-byte
;; tables; i8x16.swizzle looks up 16 bytes at once. Compiled by `make generate` (wabt) into
;; src/gen/gf256-simd.ts; the scalar kernel in kernel.ts is the reference it is tested against.
(module
  ;; [0, 8192): the nibble tables, 32 bytes per coefficient (T_lo then T_hi), written by the host.
  ;; Above: the host's workspace (symbols, parity rows, coefficient lists).
  (memory (export "memory") 1)

  ;; For r in [0, rows): dst[r·stride + t] ^= coefs[r] · src[t] for t in [0, len rounded up to 16).
  ;; The caller keeps src, dst and stride 16-aligned and the bytes of src past len zero, so the
  ;; rounded-up tail adds nothing.
  (func (export "mulAddRows")
    (param $src i32) (param $len i32) (param $coefs i32) (param $rows i32) (param $dst i32) (param $stride i32)
    (local $r i32) (local $c i32) (local $lo v128) (local $hi v128) (local $mask v128)
    (local $i i32) (local $end i32) (local $out i32) (local $v v128)
    (local.set $mask (i8x16.splat (i32.const 15)))
    (local.set $end (i32.and (i32.add (local.get $len) (i32.const 15)) (i32.const -16)))
    (block $rows_done
      (loop $each_row
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $c (i32.load8_u (i32.add (local.get $coefs) (local.get $r))))
        (if (local.get $c)
          (then
            (local.set $lo (v128.load (i32.shl (local.get $c) (i32.const 5))))
            (local.set $hi (v128.load offset=16 (i32.shl (local.get $c) (i32.const 5))))
            (local.set $out (i32.add (local.get $dst) (i32.mul (local.get $r) (local.get $stride))))
            (local.set $i (i32.const 0))
            (block $bytes_done
              (loop $each_16
                (br_if $bytes_done (i32.ge_u (local.get $i) (local.get $end)))
                (local.set $v (v128.load (i32.add (local.get $src) (local.get $i))))
                (v128.store
                  (i32.add (local.get $out) (local.get $i))
                  (v128.xor
                    (v128.load (i32.add (local.get $out) (local.get $i)))
                    (v128.xor
                      (i8x16.swizzle (local.get $lo) (v128.and (local.get $v) (local.get $mask)))
                      (i8x16.swizzle (local.get $hi) (i8x16.shr_u (local.get $v) (i32.const 4))))))
                (local.set $i (i32.add (local.get $i) (i32.const 16)))
                (br $each_16)))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $each_row)))))
