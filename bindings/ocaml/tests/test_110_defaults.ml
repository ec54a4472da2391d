(* The settings of a new handle. *)

open Nbdtest

let () =
  let h = NBD.create () in
  check_eq "export name" Fun.id "" (NBD.get_export_name h);
  check "full info" (not (NBD.get_full_info h));
  check "tls" (NBD.get_tls h = NBD.TLS.DISABLE);
  check "structured replies" (NBD.get_request_structured_replies h);
  check "block size" (NBD.get_request_block_size h);
  check "meta context" (NBD.get_request_meta_context h);
  check "handshake flags"
    (List.sort compare (NBD.get_handshake_flags h)
     = List.sort compare NBD.HANDSHAKE_FLAG.mask);
  check "pread initialize" (NBD.get_pread_initialize h);
  check "opt mode" (not (NBD.get_opt_mode h));
  check "private data" (NBD.get_private_data h = 0);
  check "meta contexts" (NBD.get_nr_meta_contexts h = 0);
  check "debug"
    (NBD.get_debug h = (Sys.getenv_opt "LIBNBD_DEBUG" = Some "1"));
  let strict = NBD.get_strict_mode h in
  List.iter
    (fun f -> check "strict flag" (List.mem f strict))
    NBD.STRICT.[ COMMANDS; FLAGS; BOUNDS; ZERO_SIZE; ALIGN ];
  check "no unknown strict bits"
    (List.for_all (function NBD.STRICT.UNKNOWN _ -> false | _ -> true) strict);
  check "package" (NBD.get_package_name h = "libnbd");
  check "version" (String.length (NBD.get_version h) > 0);
  check "supports uri" (NBD.supports_uri h);
  pass ()
