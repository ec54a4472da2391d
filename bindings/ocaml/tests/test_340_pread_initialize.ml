(* pread_initialize: a read the server fails leaves the caller's buffer
   cleared (the default), so no stale bytes pass for data; with it turned
   off the buffer is left as it was. *)

open Nbdtest

let failing_reads = [ "--filter=error"; "pattern"; "size=1M"; "error=EIO"; "error-pread-rate=1" ]

let () =
  let h = connected failing_reads in
  check "on by default" (NBD.get_pread_initialize h);
  let buf = Bytes.make 512 '\xff' in
  ignore (expect_error ~errno:Unix.EIO "failing pread" (fun () -> NBD.pread h buf 0L));
  check "cleared" (Bytes.equal buf (Bytes.make 512 '\000'));
  NBD.close h;

  let h = connected ~setup:(fun h -> NBD.set_pread_initialize h false) failing_reads in
  check "turned off" (not (NBD.get_pread_initialize h));
  let buf = Bytes.make 512 '\xff' in
  ignore (expect_error ~errno:Unix.EIO "failing pread" (fun () -> NBD.pread h buf 0L));
  check "left alone" (Bytes.equal buf (Bytes.make 512 '\xff'));
  NBD.close h;
  pass ()
