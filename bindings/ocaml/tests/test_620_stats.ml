(* The byte and chunk counters. *)

open Nbdtest

let () =
  let h = NBD.create () in
  check "nothing sent" (NBD.stats_bytes_sent h = 0L);
  check "nothing received" (NBD.stats_bytes_received h = 0L);
  NBD.connect_command h (nbdkit [ "null" ]);
  let bs = NBD.stats_bytes_sent h and cs = NBD.stats_chunks_sent h in
  let br = NBD.stats_bytes_received h and cr = NBD.stats_chunks_received h in
  check "handshake sent" (bs > 0L && cs > 0L);
  check "handshake received" (br > 0L && cr > 0L);
  NBD.flush h;
  check "more sent" (NBD.stats_bytes_sent h > bs);
  check "more chunks sent" (NBD.stats_chunks_sent h > cs);
  check "more received" (NBD.stats_bytes_received h > br);
  check "more chunks received" (NBD.stats_chunks_received h > cr);
  NBD.shutdown h;
  pass ()
