(* URIs: is_uri and supports_uri, a URI of another scheme is refused with
   EINVAL, and a transport the handle does not allow with EPERM before
   anything connects. *)

open Nbdtest

let () =
  let sock = nbdkit_unix [ "memory"; "size=64K" ] in
  let uri = "nbd+unix:///?socket=" ^ sock in
  NBD.with_handle (fun h ->
      check "supports_uri" (NBD.supports_uri h);
      check "is_uri nbd://" (NBD.is_uri h "nbd://localhost/");
      check "is_uri nbd+unix://" (NBD.is_uri h uri);
      check "not a URI" (not (NBD.is_uri h "not a uri"));
      ignore
        (expect_error ~errno:Unix.EINVAL "http URI" (fun () ->
             NBD.connect_uri h "http://example.com/"));
      check "still not connected" (NBD.aio_is_created h));
  NBD.with_handle (fun h ->
      NBD.set_uri_allow_transports h [ NBD.ALLOW_TRANSPORT.TCP ];
      ignore
        (expect_error ~errno:Unix.EPERM "unix URI with only TCP allowed" (fun () ->
             NBD.connect_uri h uri));
      check "nothing connected" (not (NBD.aio_is_ready h)));
  (* Allowed again, the same URI connects. *)
  NBD.with_handle (fun h ->
      NBD.set_uri_allow_transports h [ NBD.ALLOW_TRANSPORT.UNIX ];
      NBD.connect_uri h uri;
      check_eq "size" Int64.to_string 65536L (NBD.get_size h));
  pass ()
