(* Helpers shared by the tests: servers, expected data, checks.

   Each test is one executable, numbered like the scenarios of the other
   languages (and like libnbd's own OCaml tests). It prints "PASS name"
   as its last line; cargo xtask test counts those lines. A test that
   hangs is killed by an alarm. *)

let () = ignore (Unix.alarm 120)

(* The argv of an nbdkit serving on stdin/stdout, for connect_command. *)
let nbdkit args = "nbdkit" :: "-s" :: "--exit-with-parent" :: args

(* A new handle connected to nbdkit with this plugin and arguments. *)
let connected ?(setup = fun _ -> ()) args =
  let h = NBD.create () in
  setup h;
  NBD.connect_command h (nbdkit args);
  h

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

(* Poll until an aio command completes. *)
let wait_for h cookie =
  while not (NBD.aio_command_completed h cookie) do
    ignore (NBD.poll h (-1))
  done

let contains haystack needle =
  let n = String.length needle and m = String.length haystack in
  let rec go i = i + n <= m && (String.sub haystack i n = needle || go (i + 1)) in
  go 0

let pass () =
  Printf.printf "PASS %s\n%!" (Filename.remove_extension (Filename.basename Sys.executable_name))
