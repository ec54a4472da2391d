(* Handles: create, close, with_handle, the GC, and calls after close. *)

(* scenarios: 150 940 *)

open Nbdtest

let () =
  let h = NBD.create () in
  check "name" (String.length (NBD.get_handle_name h) > 0);
  NBD.close h;
  (* A second close does nothing; any other call raises Closed. *)
  NBD.close h;
  (match NBD.get_size h with
   | _ -> failwith "get_size on a closed handle"
   | exception NBD.Closed name -> check_eq "Closed" Fun.id "NBD.get_size" name);

  (* with_handle closes the handle on return and on exceptions. *)
  let kept = ref None in
  let check_kept_closed failure =
    match !kept with
    | Some h -> (
        match NBD.get_debug h with
        | _ -> failwith failure
        | exception NBD.Closed _ -> ())
    | None -> assert false
  in
  let n = NBD.with_handle (fun h -> kept := Some h; 42) in
  check "with_handle result" (n = 42);
  check_kept_closed "with_handle did not close";
  (match NBD.with_handle (fun h -> kept := Some h; raise Exit) with
   | _ -> assert false
   | exception Exit -> ());
  check_kept_closed "with_handle did not close after an exception";

  (* Handles left to the GC are freed, also connected ones. *)
  for _ = 1 to 1000 do
    ignore (NBD.create ())
  done;
  for _ = 1 to 3 do
    ignore (connected [ "null" ])
  done;
  Gc.full_major ();
  Gc.full_major ();

  (* Names are distinct. *)
  let a = NBD.create () and b = NBD.create () in
  check "distinct names" (NBD.get_handle_name a <> NBD.get_handle_name b);
  NBD.set_handle_name a "mine";
  check_eq "set_handle_name" Fun.id "mine" (NBD.get_handle_name a);
  pass ()
