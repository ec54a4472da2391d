(* One handle, several connections (set_connections, an extension):
   64 writes spread over four connections (nbdkit's log shows which
   carried them), completion callbacks, the data read back through
   another handle; one connection without multi-conn. *)

open Nbdtest

let block = 65536

(* How many different connections nbdkit's log shows doing [what]. *)
let connections_doing log what =
  let ic = open_in log in
  let ids = Hashtbl.create 8 in
  (try
     while true do
       let line = input_line ic in
       match String.split_on_char ' ' line with
       | _ :: _ :: conn :: w :: _ when w = what ->
           if String.length conn > 11 && String.sub conn 0 11 = "connection=" then
             Hashtbl.replace ids conn ()
       | _ -> ()
     done
   with End_of_file -> ());
  close_in ic;
  Hashtbl.length ids

let () =
  let h = NBD.create () in
  check_eq "default" string_of_int 1 (NBD.get_connections h);
  List.iter
    (fun bad ->
      let msg =
        expect_error ~errno:Unix.EINVAL "set_connections" (fun () ->
            NBD.set_connections h bad)
      in
      check "message names the range" (contains msg "1 to 64"))
    [ 0; -1; 65 ];
  NBD.close h;

  let log = Filename.concat (temp_dir ()) "log" in
  let sock = nbdkit_unix [ "--filter=log"; "memory"; "8M"; "logfile=" ^ log ] in
  let h = NBD.create () in
  NBD.set_connections h 4;
  NBD.connect_unix h sock;
  check_eq "connections" string_of_int 4 (NBD.get_connections h);
  ignore
    (expect_error ~errno:Unix.EINVAL "set_connections once connected" (fun () ->
         NBD.set_connections h 2));
  let data i = Bytes.make block (Char.chr (i + 1)) in
  let completed = ref 0 in
  for i = 0 to 63 do
    ignore
      (NBD.aio_pwrite h (NBD.Buffer.of_bytes (data i)) (Int64.of_int (i * block))
         ~completion:(fun err ->
           check "write error" (!err = 0);
           incr completed;
           1))
  done;
  check_eq "in flight" string_of_int 64 (NBD.aio_in_flight h);
  poll_until "writes" h (fun () -> !completed = 64);
  NBD.flush h;

  let other = NBD.create () in
  NBD.connect_unix other sock;
  check_eq "the other handle" string_of_int 1 (NBD.get_connections other);
  for i = 0 to 63 do
    let b = Bytes.create block in
    NBD.pread other b (Int64.of_int (i * block));
    check "read back" (Bytes.equal b (data i))
  done;
  NBD.shutdown other;
  NBD.close other;

  NBD.shutdown h;
  check_eq "after shutdown" string_of_int 0 (NBD.get_connections h);
  NBD.close h;
  (* The log filter writes each line as it happens. *)
  check_eq "connects" string_of_int 5 (connections_doing log "Connect");
  check_eq "writers" string_of_int 4 (connections_doing log "Write");

  let sock =
    nbdkit_unix [ "--filter=multi-conn"; "memory"; "1M"; "multi-conn-mode=disable" ]
  in
  let h = NBD.create () in
  NBD.set_connections h 4;
  NBD.connect_unix h sock;
  check "no multi-conn" (not (NBD.can_multi_conn h));
  check_eq "one connection" string_of_int 1 (NBD.get_connections h);
  NBD.shutdown h;
  NBD.close h;
  pass ()
