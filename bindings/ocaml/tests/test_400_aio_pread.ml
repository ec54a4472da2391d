(* Asynchronous reads into NBD.Buffer: polling for completion, the
   completion callback, buffers the program dropped, many in flight. *)

(* scenarios: 410 420 430 440 *)

open Nbdtest

let () =
  let h = connected [ "pattern"; "size=1M" ] in
  let buf = NBD.Buffer.alloc 512 in
  check "size" (NBD.Buffer.size buf = 512);
  let cookie = NBD.aio_pread h buf 0L in
  check "cookie" (cookie > 0L);
  wait_for h cookie;
  check "data" (Bytes.equal (NBD.Buffer.to_bytes buf) (pattern 0 512));

  (* The completion callback runs once, with error 0; returning 1
     retires the command. *)
  let calls = ref 0 in
  let buf = NBD.Buffer.alloc 4096 in
  let _cookie =
    NBD.aio_pread h buf 8192L ~completion:(fun err ->
        check "completion error" (!err = 0);
        incr calls;
        1)
  in
  while NBD.aio_in_flight h > 0 do
    ignore (NBD.poll h (-1))
  done;
  check_eq "completion calls" string_of_int 1 !calls;
  check "data" (Bytes.equal (NBD.Buffer.to_bytes buf) (pattern 8192 4096));

  (* The program keeps no reference to the buffer nor the closure: the
     library keeps both until the command retires. *)
  let result = ref Bytes.empty in
  let start offset =
    let b = NBD.Buffer.alloc 1024 in
    NBD.aio_pread h b offset ~completion:(fun _ ->
        result := NBD.Buffer.to_bytes b;
        1)
  in
  ignore (start 2048L);
  Gc.full_major ();
  Gc.compact ();
  while NBD.aio_in_flight h > 0 do
    ignore (NBD.poll h (-1))
  done;
  check "data of a dropped buffer" (Bytes.equal !result (pattern 2048 1024));

  (* Many commands in flight. *)
  let bufs = Array.init 32 (fun _ -> NBD.Buffer.alloc 512) in
  let cookies =
    Array.mapi (fun i b -> NBD.aio_pread h b (Int64.of_int (i * 512))) bufs
  in
  Array.iter (wait_for h) cookies;
  Array.iteri
    (fun i b ->
      check "many" (Bytes.equal (NBD.Buffer.to_bytes b) (pattern (i * 512) 512)))
    bufs;

  (* Driving the handle from our own loop with the fd and direction. *)
  let b = NBD.Buffer.alloc 512 in
  let cookie = NBD.aio_pread h b 512L in
  let fd = NBD.aio_get_fd h in
  while not (NBD.aio_command_completed h cookie) do
    let dir = Int32.of_int (NBD.aio_get_direction h) in
    let r = if Int32.logand dir NBD.aio_direction_read <> 0l then [ fd ] else [] in
    let w = if Int32.logand dir NBD.aio_direction_write <> 0l then [ fd ] else [] in
    let r, w, _ = Unix.select r w [] 5.0 in
    if r <> [] then NBD.aio_notify_read h;
    if w <> [] then NBD.aio_notify_write h
  done;
  check "own loop" (Bytes.equal (NBD.Buffer.to_bytes b) (pattern 512 512));

  (* A command unknown to the handle. *)
  ignore (expect_error "cookie 0" (fun () -> NBD.aio_command_completed h 0L));
  (match NBD.Buffer.alloc (-1) with
   | _ -> failwith "Buffer.alloc (-1)"
   | exception Invalid_argument _ -> ());
  pass ()
