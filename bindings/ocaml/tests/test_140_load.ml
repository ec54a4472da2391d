(* The module loads, and its constants and flag sets are libnbd's. *)

open Nbdtest

let () =
  check_eq "state_hole" Int32.to_string 1l NBD.state_hole;
  check_eq "state_zero" Int32.to_string 2l NBD.state_zero;
  check_eq "aio_direction_both" Int32.to_string 3l NBD.aio_direction_both;
  check_eq "context" Fun.id "base:allocation" NBD.context_base_allocation;
  check_eq "namespace" Fun.id "base:" NBD.namespace_base;
  check "CMD_FLAG.mask has FUA" (List.mem NBD.CMD_FLAG.FUA NBD.CMD_FLAG.mask);
  check "errno of ENOTCONN"
    (NBD.errno_of_unix_error Unix.ENOTCONN = 107);
  check "errno of EUNKNOWNERR" (NBD.errno_of_unix_error (Unix.EUNKNOWNERR 71) = 71);
  pass ()
