(* The debug callback receives the library's messages until cleared. *)

open Nbdtest

let () =
  let h = NBD.create () in
  let messages = ref [] in
  NBD.set_debug_callback h (fun context msg ->
      messages := (context, msg) :: !messages;
      0);
  NBD.set_debug h true;
  NBD.connect_command h (nbdkit [ "null" ]);
  ignore (NBD.get_size h);
  check "messages" (List.length !messages > 0);
  check "a call is named"
    (List.exists (fun (c, _) -> contains c "nbd_") !messages);
  NBD.set_debug h false;
  NBD.clear_debug_callback h;
  let n = List.length !messages in
  NBD.set_debug h true;
  NBD.set_debug h false;
  ignore (NBD.get_size h);
  check_eq "no messages after clear" string_of_int n (List.length !messages);
  NBD.close h;
  (* A handle with a debug callback left to the GC. *)
  let h = NBD.create () in
  NBD.set_debug_callback h (fun _ _ -> 0);
  NBD.set_debug h true;
  ignore h;
  Gc.full_major ();
  pass ()
