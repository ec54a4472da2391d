(* Asynchronous writes from NBD.Buffer, then flush, trim and zero. *)

(* scenarios: 520 530 *)

open Nbdtest

let () =
  let h = connected [ "memory"; "size=1M" ] in
  let data = Bytes.init 4096 (fun i -> Char.chr (i land 0xff)) in
  let buf = NBD.Buffer.of_bytes data in
  (* The buffer holds a copy: changing the bytes afterwards changes
     nothing. *)
  Bytes.fill data 0 10 'z';
  let completed = ref false in
  let cookie =
    NBD.aio_pwrite h buf 4096L ~completion:(fun err ->
        check "no error" (!err = 0);
        completed := true;
        0)
  in
  wait_for h cookie;
  check "completion" !completed;
  let back = Bytes.create 4096 in
  NBD.pread h back 4096L;
  check "written" (Bytes.equal back (NBD.Buffer.to_bytes buf));
  check "copy" (Bytes.get back 0 = '\000');
  wait_for h (NBD.aio_flush h);
  wait_for h (NBD.aio_trim h 4096L 4096L);
  wait_for h (NBD.aio_zero h 4096L 0L ~flags:[]);
  NBD.pread h back 4096L;
  check "zeroed" (Bytes.equal back (Bytes.make 4096 '\000'));
  (* A read-only server: refused before anything is sent. *)
  let ro = connected [ "-r"; "memory"; "size=1M" ] in
  ignore
    (expect_error ~errno:Unix.EPERM "aio_pwrite to read-only" (fun () ->
         NBD.aio_pwrite ro (NBD.Buffer.alloc 512) 0L));
  (* A write the server fails completes with its error. *)
  let bad =
    connected [ "--filter=error"; "memory"; "size=1M"; "error=EIO"; "error-pwrite-rate=1" ]
  in
  let errno = ref 0 in
  let cookie =
    NBD.aio_pwrite bad (NBD.Buffer.alloc 512) 0L ~completion:(fun err ->
        errno := !err;
        1)
  in
  ignore cookie;
  while NBD.aio_in_flight bad > 0 do
    ignore (NBD.poll bad (-1))
  done;
  check_eq "error reported to completion" string_of_int 5 !errno;
  pass ()
