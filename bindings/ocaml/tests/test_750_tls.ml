(* TLS with a pre-shared key against nbdkit: required and negotiated with
   the right key, refused with a wrong one; TLS_REQUIRE refuses a
   plaintext server and TLS_ALLOW falls back to it visibly; an
   nbds+unix:// URI turns TLS on (its key file only when local files are
   allowed). *)

(* scenarios: 751 753 *)

open Nbdtest

(* A psktool-style key file for the user alice, with a random key. *)
let key_file dir name =
  let path = Filename.concat dir name in
  let oc = open_out path in
  Printf.fprintf oc "alice:%s\n" (String.init 64 (fun _ -> "0123456789abcdef".[Random.int 16]));
  close_out oc;
  path

let tls_handle tls psk =
  let h = NBD.create () in
  NBD.set_tls h tls;
  NBD.set_tls_psk_file h psk;
  NBD.set_tls_username h "alice";
  h

let () =
  Random.self_init ();
  let dir = temp_dir () in
  let good = key_file dir "keys.psk" and wrong = key_file dir "wrong.psk" in
  let tls_sock = nbdkit_unix [ "--tls=require"; "--tls-psk=" ^ good; "memory"; "size=1M" ] in
  let plain_sock = nbdkit_unix [ "memory"; "size=1M" ] in

  (* 750: the right key. *)
  check_tls_round_trip (tls_handle NBD.TLS.REQUIRE good) tls_sock "encrypted" 4096L;

  (* 750: a wrong key. *)
  let h = tls_handle NBD.TLS.REQUIRE wrong in
  ignore (expect_error "wrong key" (fun () -> NBD.connect_unix h tls_sock));
  check "not connected" (not (NBD.aio_is_ready h));
  NBD.close h;

  (* 751: REQUIRE refuses a plaintext server; ALLOW falls back. *)
  let h = tls_handle NBD.TLS.REQUIRE good in
  ignore (expect_error "require against plaintext" (fun () -> NBD.connect_unix h plain_sock));
  check "not connected" (not (NBD.aio_is_ready h));
  NBD.close h;
  let h = tls_handle NBD.TLS.ALLOW good in
  NBD.connect_unix h plain_sock;
  check "fell back to plaintext" (not (NBD.get_tls_negotiated h));
  check_eq "size" Int64.to_string 1048576L (NBD.get_size h);
  NBD.close h;

  (* 753: nbds+unix:// with the key file in the URI. *)
  let uri = Printf.sprintf "nbds+unix:///?socket=%s&tls-psk-file=%s&tls-username=alice" tls_sock good in
  NBD.with_handle (fun h ->
      ignore (expect_error "a key file in a URI is a local file" (fun () -> NBD.connect_uri h uri)));
  NBD.with_handle (fun h ->
      NBD.set_uri_allow_local_file h true;
      NBD.connect_uri h uri;
      check "nbds negotiated" (NBD.get_tls_negotiated h);
      check_eq "nbds size" Int64.to_string 1048576L (NBD.get_size h));
  pass ()
