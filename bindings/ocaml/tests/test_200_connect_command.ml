(* Connecting to nbdkit run as a subprocess, the states before and after,
   and the errors of calls made in the wrong state. *)

(* scenarios: 207 209 *)

open Nbdtest

let () =
  let h = NBD.create () in
  check "created" (NBD.aio_is_created h);
  (* Before connecting: ENOTCONN, as Unix.error. *)
  let msg = expect_error ~errno:Unix.ENOTCONN "get_size" (fun () -> NBD.get_size h) in
  check "message names the call" (contains msg "nbd_get_size");
  NBD.connect_command h (nbdkit [ "memory"; "size=1M" ]);
  check "ready" (NBD.aio_is_ready h);
  check_eq "size" Int64.to_string 1048576L (NBD.get_size h);
  check "not read-only" (not (NBD.is_read_only h));
  check "can flush" (NBD.can_flush h);
  check "can trim" (NBD.can_trim h);
  check "can zero" (NBD.can_zero h);
  check "structured replies" (NBD.get_structured_replies_negotiated h);
  check_eq "protocol" Fun.id "newstyle-fixed" (NBD.get_protocol h);
  check "pid" (NBD.get_subprocess_pid h > 0L);
  check "connection state"
    (String.length (NBD.connection_state h) > 0);
  (* Connecting again is refused. *)
  ignore
    (expect_error ~errno:Unix.EINVAL "second connect" (fun () ->
         NBD.connect_command h (nbdkit [ "null" ])));
  NBD.shutdown h;
  check "closed" (NBD.aio_is_closed h);
  NBD.close h;

  (* A server that cannot start: the call fails, it does not hang. *)
  let h = NBD.create () in
  ignore
    (expect_error "connect to a failing command" (fun () ->
         NBD.connect_command h [ "false" ]));
  check "dead" (NBD.aio_is_dead h || NBD.aio_is_closed h);
  pass ()
