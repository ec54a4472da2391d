(* Every way of connecting besides a subprocess: a Unix socket, TCP on
   127.0.0.1, nbd:// and nbd+unix:// URIs (the export name from the
   path), a socket the program connected itself, systemd socket
   activation, and asynchronously through poll; before connecting, calls
   that need a connection fail with ENOTCONN. *)

(* scenarios: 202 203 204 205 206 500 *)

open Nbdtest

let size h = NBD.get_size h

let () =
  (* Not connected yet. *)
  let h = NBD.create () in
  ignore (expect_error ~errno:Unix.ENOTCONN "get_size before connecting" (fun () -> NBD.get_size h));
  ignore
    (expect_error ~errno:Unix.ENOTCONN "pread before connecting" (fun () ->
         NBD.pread h (Bytes.create 512) 0L));
  NBD.close h;

  let sock = nbdkit_unix [ "memory"; "size=64K" ] in
  NBD.with_handle (fun h ->
      NBD.connect_unix h sock;
      check_eq "unix size" Int64.to_string 65536L (size h);
      NBD.pwrite h (Bytes.make 512 'u') 0L;
      let b = Bytes.create 512 in
      NBD.pread h b 0L;
      check "unix data" (Bytes.equal b (Bytes.make 512 'u')));

  (* TCP, and an nbd:// URI naming an export. *)
  let port = free_port () in
  ignore
    (nbdkit_listening
       [ "-i"; "127.0.0.1"; "-p"; string_of_int port ]
       [ "memory"; "size=128K" ]);
  NBD.with_handle (fun h ->
      NBD.connect_tcp h "127.0.0.1" (string_of_int port);
      check_eq "tcp size" Int64.to_string 131072L (size h));
  NBD.with_handle (fun h ->
      NBD.connect_uri h (Printf.sprintf "nbd://127.0.0.1:%d/myexport" port);
      check_eq "uri export name" Fun.id "myexport" (NBD.get_export_name h);
      check_eq "nbd:// size" Int64.to_string 131072L (size h));
  NBD.with_handle (fun h ->
      NBD.connect_uri h ("nbd+unix:///?socket=" ^ sock);
      check_eq "nbd+unix:// size" Int64.to_string 65536L (size h);
      check "is_uri" (NBD.is_uri h "nbd+unix:///?socket=/x"));

  (* A socket the program connected. *)
  let fd = Unix.socket Unix.PF_UNIX Unix.SOCK_STREAM 0 in
  Unix.connect fd (Unix.ADDR_UNIX sock);
  NBD.with_handle (fun h ->
      NBD.connect_socket h fd;
      check_eq "socket size" Int64.to_string 65536L (size h));

  (* Socket activation: the library makes the socket and runs nbdkit. *)
  NBD.with_handle (fun h ->
      NBD.connect_systemd_socket_activation h [ "nbdkit"; "--exit-with-parent"; "memory"; "size=32K" ];
      check_eq "activated size" Int64.to_string 32768L (size h));

  (* Asynchronously: aio_connect_unix and aio_connect return at once, and
     poll drives the handshake. *)
  List.iter
    (fun (what, start) ->
      NBD.with_handle (fun h ->
          start h;
          poll_until what h (fun () -> not (NBD.aio_is_connecting h));
          check (what ^ " ready") (NBD.aio_is_ready h);
          check_eq (what ^ " size") Int64.to_string 65536L (size h)))
    [
      ("aio_connect_unix", fun h -> NBD.aio_connect_unix h sock);
      ("aio_connect", fun h -> NBD.aio_connect h (Unix.ADDR_UNIX sock));
    ];
  pass ()
