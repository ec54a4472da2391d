(* A callback that calls a locked function of its own handle gets
   NBD.Error with EDEADLK instead of waiting for itself for ever (libnbd
   deadlocks there); the getters that cannot fail answer, and the handle
   works afterwards. *)

open Nbdtest

let errno_of f =
  match f () with
  | _ -> "no error"
  | exception NBD.Error (_, Some Unix.EDEADLK) -> "EDEADLK"
  | exception NBD.Error (msg, _) -> "other error: " ^ msg

let () =
  let h = connected [ "memory"; "size=1M" ] in
  let seen = ref [] in
  let note s = seen := s :: !seen in
  let completion err =
    note (string_of_int !err);
    note (errno_of (fun () -> NBD.get_size h));
    note (errno_of (fun () -> NBD.pread h (Bytes.create 512) 0L));
    note (string_of_bool (NBD.get_debug h));
    1
  in
  let cookie = NBD.aio_pread h (NBD.Buffer.alloc 4096) 0L ~completion in
  check "cookie" (cookie >= 1L);
  let rounds = ref 0 in
  while NBD.aio_in_flight h > 0 do
    incr rounds;
    if !rounds > 1000 then failf "the read never completed";
    ignore (NBD.poll h 5000)
  done;
  check_eq "what the completion callback saw" (String.concat ", ")
    [ "0"; "EDEADLK"; "EDEADLK"; "false" ]
    (List.rev !seen);
  check_eq "size afterwards" Int64.to_string 1048576L (NBD.get_size h);
  NBD.shutdown h;
  NBD.close h;

  (* From the debug callback, on a setter: refused, and it changed
     nothing. *)
  let h = NBD.create () in
  seen := [];
  NBD.set_debug_callback h (fun ctx msg ->
      if ctx = "nbd_set_export_name" && String.length msg >= 5
         && String.sub msg 0 5 = "enter"
      then note (errno_of (fun () -> NBD.set_handle_name h "inner"));
      0);
  NBD.set_debug h true;
  NBD.set_export_name h "x";
  NBD.set_debug h false;
  check_eq "what the debug callback saw" (String.concat ", ") [ "EDEADLK" ] !seen;
  check "the refused setter changed nothing" (NBD.get_handle_name h <> "inner");
  NBD.close h;
  pass ()
