(* An exception raised in a callback fails the command and is reported;
   the handle goes on working. *)

open Nbdtest

exception Boom

let () =
  let h = connected ~setup:base_allocation [ "memory"; "size=1M" ] in
  (* A synchronous call: NBD.Error naming the exception, EPROTO. *)
  let msg =
    expect_error ~errno:(Unix.EUNKNOWNERR 71) "block_status" (fun () ->
        NBD.block_status h 65536L 0L (fun _ _ _ _ -> raise Boom))
  in
  check "names the exception" (contains msg "Boom");
  let b = Bytes.create 16 in
  NBD.pread h b 0L;

  let msg =
    expect_error "pread_structured" (fun () ->
        NBD.pread_structured h b 0L (fun _ _ _ _ -> failwith "in chunk"))
  in
  check "names the failure" (contains msg "in chunk");
  NBD.pread h b 0L;

  (* An assertion in a callback is no different. *)
  ignore
    (expect_error "assert" (fun () ->
         NBD.block_status h 65536L 0L (fun _ _ _ _ -> assert false)));

  (* An asynchronous command: printed on stderr, the command fails. *)
  let cookie =
    NBD.aio_pread h (NBD.Buffer.alloc 512) 0L ~completion:(fun _ -> raise Boom)
  in
  ignore (expect_error "aio_pread with a raising completion" (fun () -> wait_for h cookie));
  NBD.pread h b 0L;

  (* In option mode, the list callback. *)
  let o = connected ~setup:(fun h -> NBD.set_opt_mode h true) [ "null" ] in
  ignore
    (expect_error "opt_list" (fun () -> NBD.opt_list o (fun _ _ -> raise Boom)));
  NBD.opt_abort o;

  (* The debug callback: printed, and the call goes on. *)
  NBD.set_debug_callback h (fun _ _ -> raise Boom);
  NBD.set_debug h true;
  ignore (NBD.get_size h);
  NBD.set_debug h false;
  NBD.clear_debug_callback h;
  pass ()
