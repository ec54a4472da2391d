(* The server dies with a read in flight: the read fails, the handle is
   dead or closed, and later calls fail at once instead of hanging. *)

open Nbdtest

let () =
  let sock = Filename.concat (temp_dir ()) "sock" in
  (* Every read waits 5 s in the server: it is still in flight when the
     server is killed. *)
  let pid =
    nbdkit_listening [ "-U"; sock ] [ "--filter=delay"; "memory"; "size=1M"; "rdelay=5" ]
  in
  let h = NBD.create () in
  NBD.connect_unix h sock;
  let cookie = NBD.aio_pread h (NBD.Buffer.alloc 512) 0L in
  Unix.kill pid Sys.sigkill;
  (match poll_until "the read" h (fun () -> NBD.aio_command_completed h cookie) with
   | () -> failwith "the read succeeded after the server died"
   | exception NBD.Error _ -> ());
  (* Dead (a reset) or closed (the server's end seen as EOF between
     replies), never ready again. *)
  check "dead or closed" (NBD.aio_is_dead h || NBD.aio_is_closed h);
  check "not ready" (not (NBD.aio_is_ready h));
  ignore (expect_error "pread after the server died" (fun () -> NBD.pread h (Bytes.create 512) 0L));
  NBD.close h;
  pass ()
