(* nbd+ssh:// URIs through the ssh stand-in of tests/ssh-stand-in (the
   test step puts it first on PATH and names the log in
   NBD_TEST_SSH_LOG). *)

open Nbdtest

let read_file f =
  let ic = open_in f in
  let n = in_channel_length ic in
  let s = really_input_string ic n in
  close_in ic;
  s

let () =
  let log = Sys.getenv "NBD_TEST_SSH_LOG" in
  let h = NBD.create () in
  NBD.connect_uri h "nbd+ssh://carol@example.com/?socket=/run/nbd.sock";
  check_eq "size" Int64.to_string 1048576L (NBD.get_size h);
  check_eq "ssh argv" (fun s -> s)
    "-l\ncarol\n--\nexample.com\nnc -U '/run/nbd.sock'\n" (read_file log);
  NBD.close h;
  Sys.remove log;
  let h = NBD.create () in
  let msg =
    expect_error ~errno:Unix.EINVAL "option-like host" (fun () ->
        NBD.connect_uri h "nbd+ssh://-oProxyCommand=x/")
  in
  ignore msg;
  check "ssh never ran" (not (Sys.file_exists log));
  NBD.close h;
  pass ()
