(* Asking about an export before connecting to it. *)

(* scenarios: 240 *)

open Nbdtest

let () =
  let h =
    connected
      ~setup:(fun h -> NBD.set_opt_mode h true)
      [ "--filter=exportname"; "memory"; "size=1M"; "exportname-list=explicit";
        "exportname=a"; "exportname-strict=true" ]
  in
  NBD.set_export_name h "a";
  NBD.opt_info h;
  check_eq "size" Int64.to_string 1048576L (NBD.get_size h);
  check "still negotiating" (NBD.aio_is_negotiating h);
  (* An export the server does not have. *)
  NBD.set_export_name h "nope";
  ignore (expect_error "opt_info of a missing export" (fun () -> NBD.opt_info h));
  check "still negotiating" (NBD.aio_is_negotiating h);
  (* The meta contexts the server offers. *)
  let contexts = ref [] in
  let n = NBD.opt_list_meta_context h (fun name -> contexts := name :: !contexts; 0) in
  check "contexts" (n = List.length !contexts);
  NBD.set_export_name h "a";
  NBD.opt_go h;
  check "ready" (NBD.aio_is_ready h);
  pass ()
