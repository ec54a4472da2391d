(* Writing, with and without FUA, flush, trim and zero. *)

(* scenarios: 330 510 520 *)

open Nbdtest

let () =
  let h = connected [ "memory"; "size=1M" ] in
  let data = Bytes.init 65536 (fun i -> Char.chr (i mod 251)) in
  NBD.pwrite h data 0L;
  let back = Bytes.create 65536 in
  NBD.pread h back 0L;
  check "read back" (Bytes.equal data back);
  if NBD.can_fua h then NBD.pwrite h (Bytes.make 512 'x') 4096L ~flags:[ NBD.CMD_FLAG.FUA ];
  let b = Bytes.create 512 in
  NBD.pread h b 4096L;
  check "fua write" (Bytes.equal b (Bytes.make 512 'x'));
  NBD.flush h;
  NBD.trim h 4096L 8192L;
  NBD.zero h 512L 0L;
  NBD.pread h b 0L;
  check "zeroed" (Bytes.equal b (Bytes.make 512 '\000'));
  (* Unknown flags are refused. *)
  ignore
    (expect_error ~errno:Unix.EINVAL "unknown flag" (fun () ->
         NBD.pwrite h b 0L ~flags:[ NBD.CMD_FLAG.UNKNOWN 0x10000 ]));
  (* A read-only server refuses writes. *)
  let ro = connected [ "-r"; "memory"; "size=1M" ] in
  check "read-only" (NBD.is_read_only ro);
  ignore (expect_error ~errno:Unix.EPERM "write to read-only" (fun () -> NBD.pwrite ro b 0L));
  pass ()
