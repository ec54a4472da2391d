(* Helpers shared by the tests: servers, expected data, checks.

   Each test is one executable, numbered like the scenarios of the other
   languages (and like libnbd's own OCaml tests). It prints "PASS name"
   as its last line; cargo xtask test counts those lines. A test that
   hangs is killed by an alarm. *)

let () = ignore (Unix.alarm 120)

(* The argv of an nbdkit serving on stdin/stdout, for connect_command. *)
let nbdkit args = "nbdkit" :: "-s" :: "--exit-with-parent" :: args

(* A new handle, [setup] before it connects to the server that [argv]
   runs on its stdin/stdout. *)
let connected_to ?(setup = fun _ -> ()) argv =
  let h = NBD.create () in
  setup h;
  NBD.connect_command h argv;
  h

(* A new handle connected to nbdkit with this plugin and arguments. *)
let connected ?setup args = connected_to ?setup (nbdkit args)

(* A [~setup] asking for the base:allocation meta context. *)
let base_allocation h = NBD.add_meta_context h NBD.context_base_allocation

let failf fmt = Printf.ksprintf failwith fmt

let check what cond = if not cond then failf "check failed: %s" what

let check_eq what show expected got =
  if expected <> got then
    failf "%s: expected %s, got %s" what (show expected) (show got)

(* Run f, which must raise NBD.Error with this errno. *)
let expect_error ?errno what f =
  match f () with
  | _ -> failf "%s: no NBD.Error raised" what
  | exception NBD.Error (msg, err) -> (
      match errno with
      | Some e when err <> Some e ->
          failf "%s: wrong errno in NBD.Error %S" what msg
      | _ -> msg)

(* What nbdkit's pattern plugin holds at [offset, offset+count): each
   8-byte block is its own offset, big-endian. *)
let pattern offset count =
  let b = Bytes.create count in
  for i = 0 to count - 1 do
    let pos = offset + i in
    let block = pos - (pos mod 8) in
    let shift = 8 * (7 - (pos mod 8)) in
    Bytes.set b i (Char.chr ((block lsr shift) land 0xff))
  done;
  b

(* Poll until [cond ()] holds, for at most [seconds]; fail naming [what]
   otherwise, so no loop spins for ever. *)
let poll_until ?(seconds = 30.) what h cond =
  let deadline = Unix.gettimeofday () +. seconds in
  while not (cond ()) do
    if Unix.gettimeofday () > deadline then failf "%s: not done after %.0f s" what seconds;
    ignore (NBD.poll h 1000)
  done

(* Poll until an aio command completes. *)
let wait_for h cookie =
  poll_until "aio command" h (fun () -> NBD.aio_command_completed h cookie)

(* Connect [h] (set up for TLS) to the Unix socket [sock]; TLS must be
   negotiated and [text] written at [offset] read back; then disconnect
   and close. *)
let check_tls_round_trip h sock text offset =
  NBD.connect_unix h sock;
  check "TLS negotiated" (NBD.get_tls_negotiated h);
  NBD.pwrite h (Bytes.of_string text) offset;
  let b = Bytes.create (String.length text) in
  NBD.pread h b offset;
  check_eq "read back over TLS" Fun.id text (Bytes.to_string b);
  NBD.shutdown h;
  NBD.close h

(* A file of the repository, found above the directory the test runs in
   (dune runs it in _build/default/tests). *)
let repository_file relative =
  let rec up dir n =
    let path = Filename.concat dir relative in
    if Sys.file_exists path then path
    else if n = 0 then failf "%s not found above %s" relative (Sys.getcwd ())
    else up (Filename.dirname dir) (n - 1)
  in
  up (Sys.getcwd ()) 8

(* Processes to kill when the test exits. *)
let started = ref []

let () =
  at_exit (fun () ->
      List.iter
        (fun pid ->
          (try Unix.kill pid Sys.sigterm with Unix.Unix_error _ -> ());
          try ignore (Unix.waitpid [] pid) with Unix.Unix_error _ -> ())
        !started)

(* Wait, at most 10 s, until [path] exists and is not empty. *)
let wait_for_file what path =
  let deadline = Unix.gettimeofday () +. 10. in
  while not (Sys.file_exists path && (Unix.stat path).Unix.st_size > 0) do
    if Unix.gettimeofday () > deadline then failf "%s did not start" what;
    Unix.sleepf 0.02
  done

(* A fresh private directory for sockets and PID files. *)
let temp_dir () =
  let d = Filename.concat (Filename.get_temp_dir_name ())
      (Printf.sprintf "nbd-ocaml-%d-%d" (Unix.getpid ()) (Random.bits ())) in
  Unix.mkdir d 0o700;
  d

(* Run the server [argv pidfile] names, ready once it wrote its PID file
   (10 s at most), killed by PID when the test exits. Returns its PID. *)
let serve argv =
  let pidfile = Filename.concat (temp_dir ()) "pid" in
  let argv = Array.of_list (argv pidfile) in
  let null = Unix.openfile "/dev/null" [ Unix.O_RDWR ] 0 in
  let pid = Unix.create_process argv.(0) argv null null null in
  Unix.close null;
  started := pid :: !started;
  wait_for_file argv.(0) pidfile;
  pid

(* nbdkit with these arguments, listening on [listen] (["-U"; sock] or
   ["-i"; "127.0.0.1"; "-p"; port]). Returns its PID. *)
let nbdkit_listening listen args =
  serve (fun pidfile -> ("nbdkit" :: "-f" :: "--exit-with-parent" :: "-P" :: pidfile :: listen) @ args)

(* qemu-nbd serving the raw file [image] on a Unix socket; returns the
   socket. *)
let qemu_nbd_unix image =
  let sock = Filename.concat (temp_dir ()) "sock" in
  ignore (serve (fun pidfile -> [ "qemu-nbd"; "-f"; "raw"; "-k"; sock; "-t"; "--pid-file=" ^ pidfile; image ]));
  sock

(* nbdkit on a Unix socket in a fresh directory; returns the socket. *)
let nbdkit_unix args =
  let sock = Filename.concat (temp_dir ()) "sock" in
  ignore (nbdkit_listening [ "-U"; sock ] args);
  sock

(* A TCP port on 127.0.0.1 that was free a moment ago. *)
let free_port () =
  let s = Unix.socket Unix.PF_INET Unix.SOCK_STREAM 0 in
  Unix.bind s (Unix.ADDR_INET (Unix.inet_addr_loopback, 0));
  let port = match Unix.getsockname s with Unix.ADDR_INET (_, p) -> p | _ -> assert false in
  Unix.close s;
  port

(* Whether process [pid] has exited (reaped by us or by the library)
   within [seconds]. *)
let exits_within seconds pid =
  let deadline = Unix.gettimeofday () +. seconds in
  let rec go () =
    match Unix.waitpid [ Unix.WNOHANG ] pid with
    | 0, _ when Unix.gettimeofday () < deadline -> Unix.sleepf 0.05; go ()
    | 0, _ -> false
    | _ -> true
    | exception Unix.Unix_error (Unix.ECHILD, _, _) -> true
  in
  go ()

let contains haystack needle =
  let n = String.length needle and m = String.length haystack in
  let rec go i = i + n <= m && (String.sub haystack i n = needle || go (i + 1)) in
  go 0

let pass () =
  Printf.printf "PASS %s\n%!" (Filename.remove_extension (Filename.basename Sys.executable_name))
