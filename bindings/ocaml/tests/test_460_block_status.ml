(* Block status with base:allocation, 32-bit and 64-bit extents. *)

(* scenarios: 465 *)

open Nbdtest

let () =
  let h = connected ~setup:base_allocation [ "memory"; "size=1M" ] in
  check "context" (NBD.can_meta_context h NBD.context_base_allocation);
  NBD.pwrite h (Bytes.make 65536 '\255') 0L;
  let seen = ref [] in
  NBD.block_status h 1048576L 0L (fun metacontext offset entries err ->
      check "no error" (!err = 0);
      if metacontext = NBD.context_base_allocation then
        seen := (offset, Array.to_list entries) :: !seen;
      0);
  (match !seen with
   | [ (0L, len :: flags :: _ :: flags2 :: _) ] ->
       check_eq "first extent" Int64.to_string 65536L len;
       check_eq "allocated" Int64.to_string 0L flags;
       check "then a hole"
         (Int64.logand flags2 (Int64.of_int32 NBD.state_hole) <> 0L)
   | _ -> failwith "unexpected block status");
  (* REQ_ONE: a single extent. *)
  let n = ref 0 in
  NBD.block_status h 1048576L 0L ~flags:[ NBD.CMD_FLAG.REQ_ONE ]
    (fun _ _ entries _ -> n := Array.length entries; 0);
  check_eq "req_one" string_of_int 2 !n;
  (* 64-bit extents. *)
  let total = ref 0L in
  NBD.block_status_64 h 1048576L 0L (fun _ offset extents _ ->
      check "offset" (offset = 0L);
      Array.iter (fun (len, _) -> total := Int64.add !total len) extents;
      0);
  check "64-bit extents" (!total >= 65536L);
  pass ()
