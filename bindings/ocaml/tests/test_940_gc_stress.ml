(* The GC moving and collecting everything while callbacks run: closures,
   their arguments and buffers must stay rooted for as long as the
   library may use them. A small minor heap makes the GC move more. *)

(* scenarios: 630 *)

open Nbdtest

let () =
  Gc.set { (Gc.get ()) with Gc.minor_heap_size = 4096 };
  let h = connected ~setup:base_allocation [ "memory"; "size=1M" ] in
  NBD.pwrite h (Bytes.make 65536 'a') 0L;
  for i = 1 to 300 do
    NBD.block_status h 1048576L 0L (fun ctx _ entries _ ->
        let garbage = List.init 100 string_of_int in
        if i mod 50 = 0 then Gc.compact ();
        check "callback arguments" (ctx = NBD.context_base_allocation && Array.length entries >= 2);
        ignore (Sys.opaque_identity garbage);
        0);
    for k = 0 to 7 do
      let b = NBD.Buffer.alloc 4096 in
      ignore
        (NBD.aio_pread h b (Int64.of_int (k * 4096)) ~completion:(fun err ->
             ignore (Sys.opaque_identity (Array.make 1000 (string_of_int !err)));
             if Bytes.get (NBD.Buffer.to_bytes b) 0 <> 'a' then failwith "aio data";
             1))
    done;
    if i mod 50 = 0 then Gc.full_major ();
    while NBD.aio_in_flight h > 0 do
      ignore (NBD.poll h (-1))
    done;
    let b = Bytes.create 100 in
    NBD.pread_structured h b 0L (fun sub _ _ _ ->
        ignore (Sys.opaque_identity (Bytes.copy sub));
        0);
    check "structured data" (Bytes.get b 99 = 'a')
  done;
  pass ()
