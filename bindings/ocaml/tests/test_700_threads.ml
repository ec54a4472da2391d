(* The runtime lock is released while a call waits for the server: other
   threads run meanwhile, and two threads can use two handles at once. *)

open Nbdtest

let () =
  (* Every read waits 1 s in the server. *)
  let slow () = connected [ "--filter=delay"; "memory"; "size=1M"; "rdelay=1" ] in
  let a = slow () and b = slow () in
  let ticks = ref 0 in
  let stop = ref false in
  let ticker =
    Thread.create
      (fun () ->
        while not !stop do
          incr ticks;
          Thread.delay 0.01
        done)
      ()
  in
  let read h () = NBD.pread h (Bytes.create 512) 0L in
  let t0 = Unix.gettimeofday () in
  let ta = Thread.create (read a) () and tb = Thread.create (read b) () in
  Thread.join ta;
  Thread.join tb;
  let elapsed = Unix.gettimeofday () -. t0 in
  stop := true;
  Thread.join ticker;
  check "other threads ran while waiting" (!ticks > 20);
  check (Printf.sprintf "both reads in parallel (%.2f s)" elapsed) (elapsed < 1.8);
  pass ()
