(* Reading: the data of nbdkit's pattern plugin, unaligned, past 4G, and
   the refusal of a zero-length read. *)

(* scenarios: 510 *)

open Nbdtest

let () =
  let h = connected [ "pattern"; "size=8G" ] in
  let buf = Bytes.create 512 in
  NBD.pread h buf 0L;
  check "pattern at 0" (Bytes.equal buf (pattern 0 512));
  let buf = Bytes.create 100 in
  NBD.pread h buf 1001L;
  check "unaligned" (Bytes.equal buf (pattern 1001 100));
  let buf = Bytes.create 64 in
  NBD.pread h buf 5_000_000_000L;
  check "past 4G" (Bytes.equal buf (pattern 5_000_000_000 64));
  NBD.pread h buf 0L ~flags:[];
  ignore
    (expect_error ~errno:Unix.EINVAL "zero-length read" (fun () ->
         NBD.pread h Bytes.empty 0L));
  ignore
    (expect_error "read past the end" (fun () ->
         NBD.pread h (Bytes.create 512) 8589934592L));
  pass ()
