(* The hostile server of tests/hostile from OCaml: a read the server
   covers only in part fails with EIO (never returns the bytes it did not
   send), bad block status fails with EPROTO and the connection lives on,
   an endless export list is cut off, and a server writing byte by byte
   still gives correct data. *)

open Nbdtest

(* The server script: NBD_TEST_HOSTILE (set by cargo xtask test), or
   found above the directory the test runs in. *)
let server =
  match Sys.getenv_opt "NBD_TEST_HOSTILE" with
  | Some path -> path
  | None -> repository_file "tests/hostile/nbd-hostile-server.py"

let hostile ?setup scenario =
  connected_to ?setup [ "python3"; server; "--scenario"; scenario ]

let eproto = Some (Unix.EUNKNOWNERR 71)

let () =
  (* Half a read: EIO, and the buffer does not pass for data. *)
  let h = hostile "short-read" in
  let buf = Bytes.make 4096 '\xaa' in
  let msg = expect_error ~errno:Unix.EIO "short read" (fun () -> NBD.pread h buf 0L) in
  check ("message names the coverage: " ^ msg) (contains msg "covered");
  NBD.close h;

  (* A zero-length extent: EPROTO, the callback never sees it, and the
     connection still reads. *)
  let h = hostile ~setup:base_allocation "bs-zero-length" in
  let calls = ref 0 in
  (match NBD.block_status h 65536L 0L (fun _ _ _ _ -> incr calls; 0) with
   | () -> failwith "block status with a zero-length extent succeeded"
   | exception NBD.Error (msg, err) ->
       check ("EPROTO: " ^ msg) (err = eproto);
       check ("message: " ^ msg) (contains msg "zero-length extent"));
  check_eq "extent callback calls" string_of_int 0 !calls;
  let b = Bytes.create 512 in
  NBD.pread h b 0L;
  check "the connection lives" (Bytes.get b 1 = '\001');
  NBD.close h;

  (* Export names without end: cut off with EPROTO, not read for ever. *)
  let h = hostile ~setup:(fun h -> NBD.set_opt_mode h true) "list-flood" in
  (match NBD.opt_list h (fun _ _ -> 0) with
   | _ -> failwith "an endless export list was accepted"
   | exception NBD.Error (msg, err) -> check ("EPROTO: " ^ msg) (err = eproto));
  NBD.close h;

  (* Byte by byte, with pauses: the data is still right. *)
  let h = hostile "trickle" in
  let b = Bytes.create 4096 in
  NBD.pread h b 1000L;
  check "trickled data" (Bytes.equal b (Bytes.init 4096 (fun i -> Char.chr ((1000 + i) mod 251))));
  NBD.close h;
  pass ()
