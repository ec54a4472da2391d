(* A structured read: the chunk callback sees the data and its status. *)

open Nbdtest

let () =
  let h = connected [ "pattern"; "size=1M" ] in
  let buf = Bytes.create 1024 in
  let chunks = ref 0 and bytes = ref 0 in
  NBD.pread_structured h buf 512L (fun subbuf offset status err ->
      check "no error" (!err = 0);
      check "status" (Int32.of_int status = NBD.read_data);
      check "chunk data"
        (Bytes.equal subbuf (pattern (Int64.to_int offset) (Bytes.length subbuf)));
      incr chunks;
      bytes := !bytes + Bytes.length subbuf;
      0);
  check "chunks" (!chunks >= 1);
  check_eq "bytes" string_of_int 1024 !bytes;
  check "buffer" (Bytes.equal buf (pattern 512 1024));
  (* A chunk callback that fails with its own errno fails the read. *)
  let msg =
    expect_error ~errno:Unix.EIO "failing chunk callback" (fun () ->
        NBD.pread_structured h buf 0L (fun _ _ _ err ->
            err := NBD.errno_of_unix_error Unix.EIO;
            -1))
  in
  check "message names the call" (contains msg "nbd_pread_structured");
  pass ()
