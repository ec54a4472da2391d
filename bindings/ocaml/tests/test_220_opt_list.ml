(* Listing exports in option mode. *)

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
  pass ()
