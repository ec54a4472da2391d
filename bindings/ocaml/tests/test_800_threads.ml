(* The runtime lock is released while a call waits for the server: other
   threads run meanwhile, two threads can use two handles at once, and
   four threads can share one handle, each seeing its own data. *)

(* scenarios: 810 820 *)

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

  (* One handle, four threads, each writing and reading back its slice. *)
  let h = connected [ "memory"; "size=1M" ] in
  let slice = 65536 in
  let failures = ref [] and failures_lock = Mutex.create () in
  let worker id () =
    try
      for round = 0 to 29 do
        let byte = Char.chr ((id * 64) + round) in
        let offset = Int64.of_int (id * slice) in
        NBD.pwrite h (Bytes.make slice byte) offset;
        let back = Bytes.create slice in
        NBD.pread h back offset;
        if not (Bytes.equal back (Bytes.make slice byte)) then
          failf "thread %d round %d read other data" id round
      done
    with e ->
      Mutex.lock failures_lock;
      failures := Printexc.to_string e :: !failures;
      Mutex.unlock failures_lock
  in
  List.iter Thread.join (List.init 4 (fun id -> Thread.create (worker id) ()));
  check_eq "thread failures" (String.concat "; ") [] !failures;
  check "still ready" (NBD.aio_is_ready h);
  NBD.close h;
  pass ()
