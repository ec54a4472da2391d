(* Deadlines (extensions): set_request_timeout and set_connect_timeout
   fail what overruns with ETIMEDOUT at the deadline (within 20 %), and
   aio_get_timeout_ms tells an event loop how long it may wait. *)

open Nbdtest

let on_time start =
  let took = Unix.gettimeofday () -. start in
  if took < 0.98 || took > 1.2 then failf "took %.3f s for a 1 s deadline" took

let () =
  let sock = nbdkit_unix [ "--filter=delay"; "memory"; "1M"; "rdelay=5" ] in
  let h = NBD.create () in
  check_eq "default" Int64.to_string 0L (NBD.get_request_timeout h);
  NBD.set_request_timeout h 1000L;
  check_eq "set" Int64.to_string 1000L (NBD.get_request_timeout h);
  NBD.connect_unix h sock;
  NBD.pwrite h (Bytes.make 512 'x') 0L;
  check_eq "no deadline" string_of_int (-1) (NBD.aio_get_timeout_ms h);
  let start = Unix.gettimeofday () in
  ignore
    (expect_error ~errno:Unix.ETIMEDOUT "slow pread" (fun () ->
         NBD.pread h (Bytes.create 512) 0L));
  on_time start;
  check "dead" (NBD.aio_is_dead h);
  NBD.close h;

  let sock = nbdkit_unix [ "--filter=delay"; "memory"; "1M"; "delay-open=5" ] in
  let h = NBD.create () in
  NBD.set_connect_timeout h 1000L;
  check_eq "connect timeout" Int64.to_string 1000L (NBD.get_connect_timeout h);
  let start = Unix.gettimeofday () in
  ignore
    (expect_error ~errno:Unix.ETIMEDOUT "slow handshake" (fun () ->
         NBD.connect_unix h sock));
  on_time start;
  check "dead after the handshake overran" (NBD.aio_is_dead h);
  NBD.close h;
  pass ()
