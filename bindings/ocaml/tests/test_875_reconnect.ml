(* Reconnect (set_reconnect_delay, an extension): a file-backed nbdkit
   killed with 16 slow writes in flight and started again on the same
   socket: every write completes once the handle is back, and the data
   reads back. *)

open Nbdtest

let block = 65536
let n = 16

let () =
  let dir = temp_dir () in
  let sock = Filename.concat dir "sock" and disk = Filename.concat dir "disk" in
  let fd = Unix.openfile disk [ Unix.O_CREAT; Unix.O_RDWR; Unix.O_TRUNC ] 0o600 in
  Unix.ftruncate fd (n * block);
  Unix.close fd;
  let start extra =
    (try Unix.unlink sock with Unix.Unix_error _ -> ());
    serve (fun pidfile ->
        [ "nbdkit"; "-f"; "--exit-with-parent"; "-U"; sock; "-P"; pidfile ]
        @ List.filter (fun a -> String.length a > 9 && String.sub a 0 9 = "--filter=") extra
        @ [ "file"; disk ]
        @ List.filter (fun a -> not (String.length a > 9 && String.sub a 0 9 = "--filter=")) extra)
  in
  let first = start [ "--filter=delay"; "wdelay=2" ] in
  let h = NBD.create () in
  NBD.set_reconnect_delay h 10000L;
  check_eq "delay" Int64.to_string 10000L (NBD.get_reconnect_delay h);
  NBD.connect_unix h sock;
  let data i = Bytes.make block (Char.chr (i + 1)) in
  let failed = ref 0 and completed = ref 0 in
  for i = 0 to n - 1 do
    ignore
      (NBD.aio_pwrite h (NBD.Buffer.of_bytes (data i)) (Int64.of_int (i * block))
         ~completion:(fun err ->
           if !err <> 0 then incr failed;
           incr completed;
           1))
  done;
  for _ = 1 to 4 do
    ignore (NBD.poll h 50)
  done;
  check_eq "in flight" string_of_int n (NBD.aio_in_flight h);
  Unix.kill first Sys.sigkill;
  ignore (Unix.waitpid [] first);
  let killed = Unix.gettimeofday () in
  let restarted = ref false in
  while !completed < n do
    if Unix.gettimeofday () -. killed > 20. then failf "the writes hang";
    if (not !restarted) && Unix.gettimeofday () -. killed > 0.3 then begin
      ignore (start []);
      restarted := true
    end;
    ignore (NBD.poll h 50)
  done;
  check_eq "failed writes" string_of_int 0 !failed;
  check_eq "reconnects" Int64.to_string 1L (NBD.stats_reconnects h);
  NBD.flush h;
  for i = 0 to n - 1 do
    let b = Bytes.create block in
    NBD.pread h b (Int64.of_int (i * block));
    check "read back" (Bytes.equal b (data i))
  done;
  NBD.shutdown h;
  NBD.close h;
  pass ()
