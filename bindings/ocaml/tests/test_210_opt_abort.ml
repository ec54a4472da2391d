(* Option mode: stop at negotiation, then abort. *)

open Nbdtest

let () =
  let h = connected ~setup:(fun h -> NBD.set_opt_mode h true) [ "null" ] in
  check "negotiating" (NBD.aio_is_negotiating h);
  check_eq "protocol" Fun.id "newstyle-fixed" (NBD.get_protocol h);
  ignore
    (expect_error ~errno:Unix.EINVAL "pread while negotiating" (fun () ->
         NBD.pread h (Bytes.create 1) 0L));
  NBD.opt_abort h;
  check "closed" (NBD.aio_is_closed h);
  ignore (expect_error "get_size after abort" (fun () -> NBD.get_size h));
  pass ()
