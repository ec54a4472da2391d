(* Listing exports in option mode, blocking and with aio_opt_list's
   completion callback. *)

(* scenarios: 250 *)

open Nbdtest

let server =
  [ "--filter=exportname"; "memory"; "size=1M"; "exportname-list=explicit";
    "exportname=a"; "exportname=b"; "exportdesc=fixed:some export" ]

let () =
  let h = connected ~setup:(fun h -> NBD.set_opt_mode h true) server in
  let seen = ref [] in
  let count =
    NBD.opt_list h (fun name description ->
        seen := (name, description) :: !seen;
        0)
  in
  check_eq "count" string_of_int 2 count;
  check_eq "names" (String.concat ",") [ "a"; "b" ]
    (List.sort compare (List.map fst !seen));
  check "descriptions" (List.for_all (fun (_, d) -> d = "some export") !seen);
  (* Then connect to one of them. *)
  NBD.set_export_name h "b";
  NBD.opt_go h;
  check "ready" (NBD.aio_is_ready h);
  check_eq "size" Int64.to_string 1048576L (NBD.get_size h);
  (* The aio form, on a connection of its own (nbdkit lists exports once
     per connection): the names arrive, then the completion callback runs
     once with no error. *)
  let h = connected ~setup:(fun h -> NBD.set_opt_mode h true) server in
  let names = ref [] and completed = ref [] in
  NBD.aio_opt_list
    ~completion:(fun err -> completed := !err :: !completed; 1)
    h
    (fun name _ -> names := name :: !names; 0);
  poll_until "aio_opt_list" h (fun () -> !completed <> []);
  check_eq "completion" (fun l -> String.concat "," (List.map string_of_int l)) [ 0 ] !completed;
  check_eq "aio names" (String.concat ",") [ "a"; "b" ] (List.sort compare !names);
  check "still negotiating" (NBD.aio_is_negotiating h);
  NBD.opt_abort h;
  pass ()
