(* Shutdown, disconnect and close: shutdown completes the commands in
   flight first; with ABANDON_PENDING the commands not yet sent fail with
   ENOTCONN; aio_disconnect ends in exactly the closed state; close with
   commands in flight returns and frees them; closing, or
   kill_subprocess, ends the server the library started. *)

(* scenarios: 701 702 703 704 *)

open Nbdtest

let slow () = connected [ "--filter=delay"; "memory"; "size=1M"; "rdelay=200ms" ]

let completion_of results i = fun err -> results.(i) <- Some !err; 1

let () =
  (* shutdown waits for the commands in flight, which succeed. *)
  let h = slow () in
  let results = Array.make 8 None in
  for i = 0 to 7 do
    ignore
      (NBD.aio_pread h (NBD.Buffer.alloc 512) (Int64.of_int (i * 512))
         ~completion:(completion_of results i))
  done;
  NBD.shutdown h;
  check "closed after shutdown" (NBD.aio_is_closed h && not (NBD.aio_is_dead h));
  Array.iteri
    (fun i r -> check_eq (Printf.sprintf "command %d" i) (function None -> "not run" | Some e -> string_of_int e) (Some 0) r)
    results;
  ignore (expect_error "pread after shutdown" (fun () -> NBD.pread h (Bytes.create 512) 0L));
  NBD.close h;

  (* ABANDON_PENDING: the first read goes out at once, the ones issued
     behind it are still queued and fail with ENOTCONN. *)
  let h = slow () in
  let cookies = List.init 4 (fun i -> NBD.aio_pread h (NBD.Buffer.alloc 512) (Int64.of_int (i * 512))) in
  NBD.shutdown h ~flags:[ NBD.SHUTDOWN.ABANDON_PENDING ];
  check "closed after abandoning" (NBD.aio_is_closed h);
  let outcome c =
    match NBD.aio_command_completed h c with
    | true -> "ok"
    | false -> "pending"
    | exception NBD.Error (_, Some Unix.ENOTCONN) -> "ENOTCONN"
    | exception NBD.Error (_, Some Unix.ESHUTDOWN) -> "ESHUTDOWN"
    | exception NBD.Error (msg, _) -> failf "command failed with %S" msg
  in
  (match List.map outcome cookies with
  | first :: queued ->
      (* The sent one was answered: done, or ESHUTDOWN when nbdkit saw the
         disconnect before it finished the read. *)
      check ("the sent command was answered: " ^ first) (first = "ok" || first = "ESHUTDOWN");
      check "the queued commands were abandoned with ENOTCONN"
        (queued = [ "ENOTCONN"; "ENOTCONN"; "ENOTCONN" ])
  | [] -> assert false);
  NBD.close h;

  (* aio_disconnect: polled to the end, the handle is closed, not dead. *)
  let h = connected [ "memory"; "size=1M" ] in
  NBD.aio_disconnect h;
  poll_until "aio_disconnect" h (fun () -> NBD.aio_is_closed h || NBD.aio_is_dead h);
  check "closed, not dead" (NBD.aio_is_closed h && not (NBD.aio_is_dead h));
  NBD.close h;

  (* close with reads in flight: it returns, the buffers stay valid. *)
  let h = slow () in
  let bufs = List.init 4 (fun _ -> NBD.Buffer.alloc 512) in
  List.iteri (fun i b -> ignore (NBD.aio_pread h b (Int64.of_int (i * 512)))) bufs;
  check "in flight" (NBD.aio_in_flight h = 4);
  NBD.close h;
  Gc.full_major ();
  List.iter (fun b -> check "buffer usable after close" (NBD.Buffer.size b = 512)) bufs;

  (* close ends the subprocess; so does kill_subprocess. *)
  let h = connected [ "memory"; "size=1M" ] in
  let pid = Int64.to_int (NBD.get_subprocess_pid h) in
  NBD.close h;
  check "close ends the server" (exits_within 10. pid);
  let h = connected [ "memory"; "size=1M" ] in
  let pid = Int64.to_int (NBD.get_subprocess_pid h) in
  (* SIGKILL (9 on Linux): nbdkit -s may sit out a SIGTERM while its
     socket is open, and what is tested here is the library's signal. *)
  NBD.kill_subprocess h 9;
  check "kill_subprocess ends the server" (exits_within 10. pid);
  ignore (expect_error "pread after the server was killed" (fun () -> NBD.pread h (Bytes.create 512) 0L));
  NBD.close h;
  pass ()
