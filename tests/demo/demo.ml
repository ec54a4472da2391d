(* The demo program, OCaml edition: the same steps as core/examples/demo.rs,
   demo.c and demo.py, printing what it saw as one JSON object for
   `cargo xtask demo`.

   Usage: demo [URI]   (without a URI it runs `nbdkit memory 1M` itself) *)

let pattern_len = 65536
let nbdkit = [ "nbdkit"; "-s"; "--exit-with-parent"; "memory"; "1M" ]

let connect h = function
  | Some uri -> NBD.connect_uri h uri
  | None -> NBD.connect_command h nbdkit

let json_str s =
  let b = Buffer.create (String.length s + 2) in
  Buffer.add_char b '"';
  String.iter
    (fun c ->
      match c with
      | '"' | '\\' -> Buffer.add_char b '\\'; Buffer.add_char b c
      | c when Char.code c < 0x20 -> Buffer.add_string b (Printf.sprintf "\\u%04x" (Char.code c))
      | c -> Buffer.add_char b c)
    s;
  Buffer.add_char b '"';
  Buffer.contents b

let json_bool b = if b then "true" else "false"

let main uri =
  let h = NBD.create () in
  NBD.add_meta_context h NBD.context_base_allocation;
  connect h uri;
  let size = NBD.get_size h in
  let read_only = NBD.is_read_only h in
  let pattern =
    if read_only then "skipped (read-only)"
    else begin
      let want = Bytes.init pattern_len (fun i -> Char.chr (i mod 251)) in
      NBD.pwrite h want 0L;
      let got = Bytes.create pattern_len in
      NBD.pread h got 0L;
      if Bytes.equal want got then "ok" else "MISMATCH"
    end
  in
  let flags =
    [ ("read_only", read_only); ("can_flush", NBD.can_flush h);
      ("can_fua", NBD.can_fua h); ("can_trim", NBD.can_trim h);
      ("can_zero", NBD.can_zero h); ("can_multi_conn", NBD.can_multi_conn h) ]
  in
  let extents = ref [] in
  if NBD.can_meta_context h NBD.context_base_allocation then
    NBD.block_status h (min size 1048576L) 0L (fun metacontext _ entries _ ->
        if metacontext = NBD.context_base_allocation then begin
          let i = ref 0 in
          while !i + 1 < Array.length entries do
            extents := (entries.(!i), entries.(!i + 1)) :: !extents;
            i := !i + 2
          done
        end;
        0);
  NBD.shutdown h;
  NBD.close h;

  let exports = ref [] in
  let lh = NBD.create () in
  NBD.set_opt_mode lh true;
  connect lh uri;
  (try ignore (NBD.opt_list lh (fun name _ -> exports := name :: !exports; 0))
   with NBD.Error (msg, _) -> exports := [ Printf.sprintf "(not listed: %s)" msg ]);
  NBD.opt_abort lh;
  NBD.close lh;

  Printf.printf
    "{\"language\": \"OCaml\", \"size\": %Ld, \"pattern\": %s, \"flags\": {%s}, \
     \"extents\": [%s], \"exports\": [%s]}\n"
    size (json_str pattern)
    (String.concat ", "
       (List.map (fun (k, v) -> Printf.sprintf "%s: %s" (json_str k) (json_bool v)) flags))
    (String.concat ", "
       (List.rev_map (fun (l, f) -> Printf.sprintf "[%Ld, %Ld]" l f) !extents))
    (String.concat ", " (List.rev_map json_str !exports))

let () = main (if Array.length Sys.argv > 1 then Some Sys.argv.(1) else None)
