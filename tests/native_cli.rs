//! The `mq` tool, run as a process: pub/sub round trips, -l, -C, -r, -n, -f, the will, TLS,
//! and exit codes (1 bad arguments, 2 unreachable, 3 refused, 27 -W timeout).
#![cfg(feature = "cli")]

mod native_common;

use native_common::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStderr, Command, Output, Stdio};

fn mq() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mq"))
}

fn run(args: &[&str]) -> Output {
    mq().args(args).output().expect("run mq")
}

/// `mq sub ... -d`, returned once it reports its subscription (so a publish cannot race it).
#[allow(clippy::zombie_processes)] // The child is returned; the caller waits for it.
fn subscriber(port: u16, args: &[&str]) -> (Child, BufReader<ChildStderr>) {
    let p = port.to_string();
    let mut child = mq()
        .args(["sub", "-h", HOST, "-p", &p, "-d", "-W", "30"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        if err.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mq sub ended before subscribing");
        }
        if line.contains("subscribed to") {
            return (child, err);
        }
    }
}

fn finish(child: Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn publish(port: u16, args: &[&str]) {
    let p = port.to_string();
    let out = mq().args(["pub", "-h", HOST, "-p", &p]).args(args).output().unwrap();
    assert!(out.status.success(), "mq pub {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn pub_sub_round_trip_with_count_and_verbose() {
    let b = Mosquitto::start();
    let (sub, _err) = subscriber(b.port, &["-t", "cli/#", "-t", "other", "-q", "2", "-C", "3", "-v"]);
    publish(b.port, &["-t", "cli/a", "-m", "hello", "-q", "1"]);
    publish(b.port, &["-t", "cli/b", "-m", "world", "-q", "2"]);
    publish(b.port, &["-t", "other", "-m", "third"]);
    let (code, out) = finish(sub);
    assert_eq!(code, 0);
    assert_eq!(out, "cli/a hello\ncli/b world\nother third\n");
}

#[test]
fn pub_l_sends_a_message_per_line() {
    let b = Mosquitto::start();
    let (sub, _err) = subscriber(b.port, &["-t", "lines", "-q", "1", "-C", "3"]);
    let p = b.port.to_string();
    let mut publ = mq()
        .args(["pub", "-h", HOST, "-p", &p, "-t", "lines", "-q", "1", "-l"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    publ.stdin.take().unwrap().write_all(b"one\ntwo\r\nthree\n").unwrap();
    assert!(publ.wait().unwrap().success());
    let (code, out) = finish(sub);
    assert_eq!((code, out.as_str()), (0, "one\ntwo\nthree\n"));
}

#[test]
fn retained_null_and_file_messages() {
    let b = Mosquitto::start();
    let dir = TempDir::new("cli-file");
    let f = dir.write("payload.txt", "from a file");
    publish(b.port, &["-t", "keep/file", "-f", f.to_str().unwrap(), "-r", "-q", "1"]);
    publish(b.port, &["-t", "keep/null", "-n", "-r"]);
    // Retained messages reach a subscriber that comes later. (An empty retained message clears
    // the topic instead, so the null message is checked live below.)
    let p = b.port.to_string();
    let out = run(&["sub", "-h", HOST, "-p", &p, "-t", "keep/#", "-C", "1", "-W", "20"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from a file\n");
    let (sub, _err) = subscriber(b.port, &["-t", "null", "-C", "1", "-v"]);
    publish(b.port, &["-t", "null", "-n"]);
    assert_eq!(finish(sub), (0, "null \n".into()));
}

#[test]
fn will_is_published_when_the_tool_is_killed() {
    let b = Mosquitto::start();
    let (watch, _err) = subscriber(b.port, &["-t", "will/#", "-C", "1", "-v"]);
    let (mut doomed, _e) = subscriber(
        b.port,
        &["-t", "nothing", "--will-topic", "will/cli", "--will-payload", "bye", "--will-qos", "1"],
    );
    doomed.kill().unwrap(); // SIGKILL: no DISCONNECT.
    let _ = doomed.wait();
    assert_eq!(finish(watch), (0, "will/cli bye\n".into()));
}

#[test]
fn exit_codes() {
    // 1: bad arguments.
    for args in [
        &["pub", "-t", "x"][..],
        &["sub"],
        &["pub", "-m", "x", "-t", "t", "--bogus"],
        &["frob"],
        &["sub", "-t", "x", "-q", "3"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
    assert_eq!(run(&["--help"]).status.code(), Some(0));
    // 2: nobody listening.
    let dead = free_port().to_string();
    let out = run(&["pub", "-h", HOST, "-p", &dead, "-t", "x", "-m", "y"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CONNECTION_FAILED"));
    // 3: refused by the broker.
    let b = Mosquitto::with_setup(|dir| {
        let pw = password_file(dir, "bob", "pw");
        (format!("allow_anonymous false\npassword_file {}\n", pw.display()), vec![])
    });
    let p = b.port.to_string();
    let out = run(&["pub", "-h", HOST, "-p", &p, "-t", "x", "-m", "y", "-u", "bob", "-P", "nope"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused"));
    let out = run(&["pub", "-h", HOST, "-p", &p, "-t", "x", "-m", "y", "-u", "bob", "-P", "pw", "-q", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // 27: -W passed without the -C count reached.
    let out = run(&["sub", "-h", HOST, "-p", &p, "-u", "bob", "-P", "pw", "-t", "quiet", "-W", "1"]);
    assert_eq!(out.status.code(), Some(27));
    assert!(String::from_utf8_lossy(&out.stderr).contains("timed out"));
}

#[test]
fn tls_flags() {
    let (mut tls_port, mut bad_port) = (0, 0);
    let b = Mosquitto::with_setup(|d| {
        (tls_port, bad_port) = (free_port(), free_port());
        Certs::generate(d);
        let conf = format!(
            "allow_anonymous true\nlistener {tls_port} {HOST}\ncertfile {d}/server.crt\nkeyfile {d}/server.key\n\
             listener {bad_port} {HOST}\ncertfile {d}/untrusted.crt\nkeyfile {d}/untrusted.key\n",
            d = d.display()
        );
        (conf, vec![tls_port, bad_port])
    });
    let ca = b.dir.path().join("ca.crt");
    let ca = ca.to_str().unwrap();
    let (tp, bp) = (tls_port.to_string(), bad_port.to_string());
    let out =
        run(&["pub", "-h", HOST, "-p", &tp, "--cafile", ca, "-t", "t", "-m", "secure", "-q", "1", "-r"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let url = format!("mqtts://{HOST}:{tp}");
    let out = run(&["sub", "-L", &url, "--cafile", ca, "-t", "t", "-C", "1", "-W", "20"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "secure\n");
    // An untrusted certificate: exit 2 with the reason; --insecure gets through.
    let out = run(&["pub", "-h", HOST, "-p", &bp, "--cafile", ca, "-t", "t", "-m", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLS_ERROR"));
    let out = run(&["pub", "-h", HOST, "-p", &bp, "--insecure", "-t", "t", "-m", "x"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A broker that accepts the connection and then never answers: whatever is published stays in
/// flight. Serves one connection, on the free port it returns (bound here, so no other test can
/// take it between choosing and binding).
fn deaf_broker() -> (u16, std::thread::JoinHandle<()>) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind((HOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        drop(listener);
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf); // CONNECT
        s.write_all(&[0x20, 0x02, 0x00, 0x00]).unwrap(); // CONNACK, accepted
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    });
    (port, handle)
}

/// `mq pub --session-dir` killed (SIGKILL) with a QoS 2 message in flight: the next run with the
/// same session completes it, and the message is delivered exactly once.
#[test]
fn a_killed_publisher_completes_its_message_on_the_next_run() {
    let (port, deaf) = deaf_broker();
    let p = port.to_string();
    let store = TempDir::new("cli-session");
    let store_arg = store.path().to_str().unwrap().to_owned();
    let args = |msg: &str| {
        let mut v: Vec<String> =
            ["pub", "-h", HOST, "-p", &p, "-i", "killed-pub", "-c", "-q", "2", "-t", "kill/t"]
                .map(String::from)
                .to_vec();
        v.extend(["-m".into(), msg.into(), "--session-dir".into(), store_arg.clone(), "-d".into()]);
        v
    };
    let mut first = mq().args(args("first")).stderr(Stdio::piped()).spawn().unwrap();
    // Wait until the store holds the in-flight message, then kill the process.
    let log = store.path().join(format!("{HOST}_{port}")).join("killed-pub").join("session.log");
    wait_for(|| fs_len(&log) > 0, "the publisher never stored its message");
    first.kill().unwrap();
    let _ = first.wait();
    deaf.join().unwrap();

    // The real broker on the same address; a watcher; the second run.
    let b = Mosquitto::on_port(port, |_| ("allow_anonymous true\n".into(), vec![]));
    let (watch, _err) = subscriber(b.port, &["-t", "kill/t", "-q", "2", "-C", "2"]);
    let out = mq().args(args("second")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("completing 1 message(s) restored"));
    let (code, got) = finish(watch);
    assert_eq!(code, 0);
    let mut lines: Vec<&str> = got.lines().collect();
    lines.sort();
    assert_eq!(lines, ["first", "second"]);
}

fn fs_len(p: &std::path::Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Polls `cond` every 10 ms for up to 20 s (waiting on another process; not a timing).
#[allow(clippy::disallowed_methods)]
fn wait_for(cond: impl Fn() -> bool, what: &str) {
    for _ in 0..2000 {
        if cond() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{what}");
}
