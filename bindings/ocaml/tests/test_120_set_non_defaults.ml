(* Setting every setting to another value, and refusing bad ones. *)

(* scenarios: 130 *)

open Nbdtest

let () =
  let h = NBD.create () in
  NBD.set_export_name h "name";
  check_eq "export name" Fun.id "name" (NBD.get_export_name h);
  NBD.set_full_info h true;
  check "full info" (NBD.get_full_info h);
  if NBD.supports_tls h then begin
    NBD.set_tls h NBD.TLS.ALLOW;
    check "tls" (NBD.get_tls h = NBD.TLS.ALLOW)
  end;
  NBD.set_request_structured_replies h false;
  check "structured replies" (not (NBD.get_request_structured_replies h));
  NBD.set_handshake_flags h [];
  check "handshake flags" (NBD.get_handshake_flags h = []);
  NBD.set_handshake_flags h [ NBD.HANDSHAKE_FLAG.FIXED_NEWSTYLE ];
  check "handshake flags"
    (NBD.get_handshake_flags h = [ NBD.HANDSHAKE_FLAG.FIXED_NEWSTYLE ]);
  NBD.set_strict_mode h [];
  check "strict" (NBD.get_strict_mode h = []);
  NBD.set_opt_mode h true;
  check "opt mode" (NBD.get_opt_mode h);
  NBD.set_pread_initialize h false;
  check "pread initialize" (not (NBD.get_pread_initialize h));
  check "private data" (NBD.set_private_data h 42 = 0);
  check "private data" (NBD.get_private_data h = 42);
  NBD.add_meta_context h NBD.context_base_allocation;
  check "nr meta contexts" (NBD.get_nr_meta_contexts h = 1);
  check_eq "meta context" Fun.id NBD.context_base_allocation
    (NBD.get_meta_context h 0);
  NBD.clear_meta_contexts h;
  check "cleared" (NBD.get_nr_meta_contexts h = 0);
  NBD.set_tls_username h "alice";
  check_eq "tls username" Fun.id "alice" (NBD.get_tls_username h);
  NBD.set_socket_activation_name h "mine";
  check_eq "socket name" Fun.id "mine" (NBD.get_socket_activation_name h);

  (* Values outside the enum or the set, and out of range. *)
  ignore
    (expect_error ~errno:Unix.EINVAL "set_tls 99" (fun () ->
         NBD.set_tls h (NBD.TLS.UNKNOWN 99)));
  ignore
    (expect_error ~errno:Unix.EINVAL "handshake flag 0x100" (fun () ->
         NBD.set_handshake_flags h [ NBD.HANDSHAKE_FLAG.UNKNOWN 0x100 ]));
  ignore
    (expect_error ~errno:Unix.EINVAL "negative index" (fun () ->
         NBD.get_meta_context h (-1)));
  ignore
    (expect_error ~errno:Unix.EINVAL "vsock cid out of range" (fun () ->
         NBD.connect_vsock h 0x1_0000_0000L 1L));
  pass ()
