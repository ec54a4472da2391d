(* NBD.get_handle_size (libnbd 1.24): an estimate of the memory a handle
   holds, larger once connected; the binding reports it to the GC, so
   handles dropped without close are collected (their servers exit). *)

open Nbdtest

let () =
  let h = NBD.create () in
  let fresh = NBD.get_handle_size h in
  check "fresh size" (fresh > 0);
  NBD.connect_command h (nbdkit [ "memory"; "size=1M" ]);
  check "connected size" (NBD.get_handle_size h >= fresh + 65536);
  NBD.close h;
  (* Many connected handles left to the GC: all are collected. *)
  for _ = 1 to 50 do
    let h = NBD.create () in
    NBD.connect_command h (nbdkit [ "memory"; "size=1M" ]);
    ignore (Sys.opaque_identity h)
  done;
  Gc.full_major ();
  pass ()
