;; AdamW update over float32 lanes (WebAssembly SIMD, 4 values per instruction).
;; adamw(p, g, m, v, n, b1, b2, c1, c2, decay, stepSize, invBc2Sqrt, eps): byte offsets p/g/m/v,
;; n values (a multiple of 4). For each i:
;;   m = b1 m + c1 g;  v = b2 v + c2 g^2;  p = p decay - stepSize m / (sqrt(v) invBc2Sqrt + eps)
;; (torch.optim.AdamW's float32 arithmetic; c1 = 1 - b1, c2 = 1 - b2, decay = 1 - lr wd).
(module
  (import "env" "memory" (memory 1))
  (func (export "adamw")
    (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $n i32)
    (param $b1 f32) (param $b2 f32) (param $c1 f32) (param $c2 f32)
    (param $decay f32) (param $step f32) (param $inv f32) (param $eps f32)
    (local $i i32) (local $end i32)
    (local $vb1 v128) (local $vb2 v128) (local $vc1 v128) (local $vc2 v128)
    (local $vdecay v128) (local $vstep v128) (local $vinv v128) (local $veps v128)
    (local $g4 v128) (local $m4 v128) (local $v4 v128)
    (local.set $vb1 (f32x4.splat (local.get $b1)))
    (local.set $vb2 (f32x4.splat (local.get $b2)))
    (local.set $vc1 (f32x4.splat (local.get $c1)))
    (local.set $vc2 (f32x4.splat (local.get $c2)))
    (local.set $vdecay (f32x4.splat (local.get $decay)))
    (local.set $vstep (f32x4.splat (local.get $step)))
    (local.set $vinv (f32x4.splat (local.get $inv)))
    (local.set $veps (f32x4.splat (local.get $eps)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $i (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $g4 (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $m4
          (f32x4.add
            (f32x4.mul (local.get $vb1) (v128.load (i32.add (local.get $m) (local.get $i))))
            (f32x4.mul (local.get $vc1) (local.get $g4))))
        (local.set $v4
          (f32x4.add
            (f32x4.mul (local.get $vb2) (v128.load (i32.add (local.get $v) (local.get $i))))
            (f32x4.mul (local.get $vc2) (f32x4.mul (local.get $g4) (local.get $g4)))))
        (v128.store (i32.add (local.get $m) (local.get $i)) (local.get $m4))
        (v128.store (i32.add (local.get $v) (local.get $i)) (local.get $v4))
        (v128.store (i32.add (local.get $p) (local.get $i))
          (f32x4.sub
            (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $i))) (local.get $vdecay))
            (f32x4.div
              (f32x4.mul (local.get $vstep) (local.get $m4))
              (f32x4.add (f32x4.mul (f32x4.sqrt (local.get $v4)) (local.get $vinv)) (local.get $veps)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next)))))
