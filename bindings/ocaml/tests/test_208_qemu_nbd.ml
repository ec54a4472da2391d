(* A server other than nbdkit: qemu-nbd serving a raw file. Its size, a
   write read back, and block status that tells the written data from the
   holes. *)

open Nbdtest

let mib = 1 lsl 20

let () =
  let image = Filename.concat (temp_dir ()) "disk.raw" in
  let fd = Unix.openfile image [ Unix.O_WRONLY; Unix.O_CREAT ] 0o600 in
  Unix.ftruncate fd (4 * mib);
  ignore (Unix.lseek fd mib Unix.SEEK_SET);
  ignore (Unix.write fd (Bytes.make mib '\001') 0 mib);
  Unix.close fd;
  let sock = qemu_nbd_unix image in
  let h = NBD.create () in
  NBD.add_meta_context h NBD.context_base_allocation;
  NBD.connect_unix h sock;
  check_eq "size" Int64.to_string (Int64.of_int (4 * mib)) (NBD.get_size h);
  check "base:allocation" (NBD.can_meta_context h NBD.context_base_allocation);
  let b = Bytes.create 4 in
  NBD.pread h b (Int64.of_int (mib + 8));
  check "the file's data" (Bytes.equal b (Bytes.make 4 '\001'));
  NBD.pwrite h (Bytes.of_string "qemu") (Int64.of_int (3 * mib));
  NBD.pread h b (Int64.of_int (3 * mib));
  check_eq "read back" Bytes.to_string (Bytes.of_string "qemu") b;
  (* The written megabyte is data, the start of the sparse file a hole. *)
  let extents = ref [] in
  NBD.block_status h (Int64.of_int (4 * mib)) 0L (fun ctx _ entries _ ->
      if ctx = NBD.context_base_allocation then extents := !extents @ Array.to_list entries;
      0);
  let rec flags_at where offset = function
    | len :: flags :: rest ->
        if where >= offset && where < Int64.add offset len then flags
        else flags_at where (Int64.add offset len) rest
    | _ -> failf "no extent covers %Ld" where
  in
  let hole = Int64.of_int32 NBD.state_hole in
  check "data" (Int64.logand (flags_at (Int64.of_int (mib + 4096)) 0L !extents) hole = 0L);
  check "hole" (Int64.logand (flags_at 0L 0L !extents) hole <> 0L);
  NBD.shutdown h;
  NBD.close h;
  pass ()
