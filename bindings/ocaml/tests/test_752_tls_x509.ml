(* TLS with X.509 certificates against nbdkit (certificates made by
   tests/c/make-x509.sh): a verified server and client work, a
   certificate that does not name the host is refused, and so is a server
   whose CA the client does not trust. *)

open Nbdtest

let make_x509 = repository_file "tests/c/make-x509.sh"

(* A fresh CA with server and client directories. *)
let certificates () =
  let dir = temp_dir () in
  let cmd = Printf.sprintf "timeout 120 sh %s %s" (Filename.quote make_x509) (Filename.quote dir) in
  check ("make-x509.sh: " ^ cmd) (Sys.command cmd = 0);
  dir

let x509_handle client hostname =
  let h = NBD.create () in
  NBD.set_tls h NBD.TLS.REQUIRE;
  NBD.set_tls_certificates h client;
  NBD.set_tls_verify_peer h true;
  check "verify peer" (NBD.get_tls_verify_peer h);
  NBD.set_tls_hostname h hostname;
  check_eq "hostname" Fun.id hostname (NBD.get_tls_hostname h);
  h

let () =
  let certs = certificates () in
  let sock =
    nbdkit_unix
      [ "--tls=require"; "--tls-certificates=" ^ Filename.concat certs "server";
        "--tls-verify-peer"; "memory"; "size=1M" ]
  in
  let client = Filename.concat certs "client" in
  check_tls_round_trip (x509_handle client "localhost") sock "x509" 512L;

  let h = x509_handle client "elsewhere.example" in
  ignore (expect_error "wrong host name" (fun () -> NBD.connect_unix h sock));
  check "not connected" (not (NBD.aio_is_ready h));
  NBD.close h;

  let other = Filename.concat (certificates ()) "client" in
  let h = x509_handle other "localhost" in
  ignore (expect_error "unknown CA" (fun () -> NBD.connect_unix h sock));
  check "not connected" (not (NBD.aio_is_ready h));
  NBD.close h;
  pass ()
