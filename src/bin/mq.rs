//! `mq pub` and `mq sub`: publish and subscribe from the command line, with mosquitto_pub /
//! mosquitto_sub's flags where they mean the same.
//!
//! Exit codes: 0 done; 1 bad arguments; 2 the broker could not be reached (network, DNS, TLS,
//! connect timeout); 3 the broker refused the connection (CONNACK code) or a subscription;
//! 4 the connection was lost or another runtime error; 27 `-W` timeout (as mosquitto_sub).

use mq::codec::{LastWill, QoS, Topic};
use mq::native::{Client, Error, Options, Reconnect, Roots, TlsOptions};
use mq::proto::{ConnectionError, Message, UserError};
use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: mq pub [options] -t TOPIC (-m MESSAGE | -f FILE | -l | -n | -s)
       mq sub [options] -t FILTER [-t FILTER ...] [-C COUNT] [-v]

connection:
  -h HOST            broker host (default localhost)
  -p PORT            broker port (default 1883, 8883 with TLS)
  -L URL             mqtt://[user[:pass]@]host[:port] or mqtts://...
  -i ID              client id (default: mq-<pid>)
  -k SECS            keepalive (default 60, 0 = off)
  -c                 disable clean session (keep the session on the broker)
  -u USER, -P PASS   credentials
  -W SECS            give up after this many seconds (exit 27)
  -d                 debug messages on stderr
  --session-dir DIR  keep the session (in-flight messages) in files under DIR
will:
  --will-topic T  --will-payload P  --will-qos Q  --will-retain
TLS:
  --cafile FILE      trust only these CA certificates (turns TLS on)
  --cert FILE --key FILE   client certificate for mutual TLS (turns TLS on)
  --tls-use-os-certs TLS with the system's and bundled roots
  --insecure         do not check the broker's certificate or name (DANGEROUS)
pub:
  -t TOPIC (repeatable) -q QOS -r (retain)
  -m MSG | -f FILE | -l (a message per stdin line) | -n (empty) | -s (all of stdin)
sub:
  -t FILTER (repeatable) -q QOS -C COUNT (exit after COUNT messages) -v (print topics)
";

struct Args {
    publish: bool,
    host: Option<String>,
    port: Option<u16>,
    url: Option<String>,
    id: Option<String>,
    keepalive: u64,
    clean: bool,
    user: Option<String>,
    pass: Option<String>,
    timeout: Option<u64>,
    debug: bool,
    session_dir: Option<PathBuf>,
    will_topic: Option<String>,
    will_payload: Vec<u8>,
    will_qos: QoS,
    will_retain: bool,
    cafile: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    os_certs: bool,
    insecure: bool,
    topics: Vec<String>,
    qos: QoS,
    retain: bool,
    source: Option<Source>,
    count: Option<u64>,
    verbose: bool,
}

enum Source {
    Message(Vec<u8>),
    File(PathBuf),
    Lines,
    Null,
    Stdin,
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("mq: {msg}");
    ExitCode::from(code)
}

fn parse(argv: Vec<String>) -> Result<Args, String> {
    let mut it = argv.into_iter();
    let publish = match it.next().as_deref() {
        Some("pub") => true,
        Some("sub") => false,
        Some("--help") | None => return Err(String::new()),
        Some(other) => return Err(format!("unknown command '{other}' (pub or sub)")),
    };
    let mut a = Args {
        publish,
        host: None,
        port: None,
        url: None,
        id: None,
        keepalive: 60,
        clean: true,
        user: None,
        pass: None,
        timeout: None,
        debug: false,
        session_dir: None,
        will_topic: None,
        will_payload: Vec::new(),
        will_qos: QoS::AtMostOnce,
        will_retain: false,
        cafile: None,
        cert: None,
        key: None,
        os_certs: false,
        insecure: false,
        topics: Vec::new(),
        qos: QoS::AtMostOnce,
        retain: false,
        source: None,
        count: None,
        verbose: false,
    };
    let qos = |v: String| match v.as_str() {
        "0" => Ok(QoS::AtMostOnce),
        "1" => Ok(QoS::AtLeastOnce),
        "2" => Ok(QoS::ExactlyOnce),
        _ => Err(format!("QoS must be 0, 1 or 2, not '{v}'")),
    };
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|_| format!("{flag}: '{v}' is not a number"));
        let mut source = |s: Source| match a.source.replace(s) {
            Some(_) => Err("give only one of -m, -f, -l, -n, -s".to_string()),
            None => Ok(()),
        };
        match flag.as_str() {
            "-h" | "--host" => a.host = Some(value()?),
            "-p" | "--port" => {
                let v = value()?;
                a.port = Some(v.parse().map_err(|_| format!("-p: '{v}' is not a port"))?);
            }
            "-L" | "--url" => a.url = Some(value()?),
            "-i" | "--id" => a.id = Some(value()?),
            "-k" | "--keepalive" => a.keepalive = number(value()?)?,
            "-c" | "--disable-clean-session" => a.clean = false,
            "-u" | "--username" => a.user = Some(value()?),
            "-P" | "--pw" => a.pass = Some(value()?),
            "-W" => a.timeout = Some(number(value()?)?),
            "-d" | "--debug" => a.debug = true,
            "--session-dir" => a.session_dir = Some(value()?.into()),
            "--will-topic" => a.will_topic = Some(value()?),
            "--will-payload" => a.will_payload = value()?.into_bytes(),
            "--will-qos" => a.will_qos = qos(value()?)?,
            "--will-retain" => a.will_retain = true,
            "--cafile" => a.cafile = Some(value()?.into()),
            "--cert" => a.cert = Some(value()?.into()),
            "--key" => a.key = Some(value()?.into()),
            "--tls-use-os-certs" => a.os_certs = true,
            "--insecure" => a.insecure = true,
            "-t" | "--topic" => a.topics.push(value()?),
            "-q" | "--qos" => a.qos = qos(value()?)?,
            "-r" | "--retain" if publish => a.retain = true,
            "-m" | "--message" if publish => source(Source::Message(value()?.into_bytes()))?,
            "-f" | "--file" if publish => source(Source::File(value()?.into()))?,
            "-l" | "--stdin-line" if publish => source(Source::Lines)?,
            "-n" | "--null-message" if publish => source(Source::Null)?,
            "-s" | "--stdin-file" if publish => source(Source::Stdin)?,
            "-C" if !publish => a.count = Some(number(value()?)?),
            "-v" | "--verbose" if !publish => a.verbose = true,
            "--help" => return Err(String::new()),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    if a.topics.is_empty() {
        return Err("at least one -t is required".into());
    }
    if publish && a.source.is_none() {
        return Err("give one of -m, -f, -l, -n, -s".into());
    }
    if a.cert.is_some() != a.key.is_some() {
        return Err("--cert and --key go together".into());
    }
    if a.will_topic.is_none() && (!a.will_payload.is_empty() || a.will_retain) {
        return Err("--will-payload and --will-retain need --will-topic".into());
    }
    if !a.clean && a.id.is_none() {
        return Err("-c needs a client id (-i)".into());
    }
    Ok(a)
}

fn options(a: &Args) -> Result<Options, Error> {
    let mut o = match &a.url {
        Some(url) => Options::from_url(url)?,
        None => Options::new(a.host.clone().unwrap_or_else(|| "localhost".into()), 1883),
    };
    let tls = a.cafile.is_some() || a.cert.is_some() || a.insecure || a.os_certs;
    if tls && o.tls.is_none() {
        o.tls = Some(TlsOptions::default());
        if a.url.is_none() {
            o.port = 8883;
        }
    }
    if let Some(t) = &mut o.tls {
        if let Some(ca) = &a.cafile {
            t.roots = Roots::CaFile(ca.clone());
        }
        if let (Some(c), Some(k)) = (&a.cert, &a.key) {
            t.client_cert = Some((c.clone(), k.clone()));
        }
        t.dangerous_accept_any_certificate = a.insecure;
    }
    if let Some(p) = a.port {
        o.port = p;
    }
    let c = &mut o.config;
    if a.id.is_some() || c.client_id.is_empty() {
        c.client_id = a.id.clone().unwrap_or_else(|| format!("mq-{}", std::process::id()));
    }
    c.clean_session = a.clean;
    c.keep_alive = Duration::from_secs(a.keepalive);
    if a.user.is_some() {
        c.username = a.user.clone();
    }
    if let Some(p) = &a.pass {
        c.password = Some(p.clone().into_bytes().into());
    }
    c.will = match &a.will_topic {
        Some(t) => Some(LastWill {
            topic: Topic::new(t.as_str()).map_err(UserError::from_topic)?,
            payload: a.will_payload.clone().into(),
            qos: a.will_qos,
            retain: a.will_retain,
        }),
        None => None,
    };
    o.session_dir = a.session_dir.clone();
    o.reconnect = Reconnect { max_attempts: Some(10), ..Reconnect::default() };
    Ok(o)
}

fn stdin_error(e: std::io::Error) -> Error {
    Error::InvalidOptions(format!("reading stdin: {e}"))
}

/// The exit code for an error.
fn exit_code(e: &Error) -> u8 {
    match e {
        Error::InvalidOptions(_) | Error::InvalidUrl(_) | Error::User(_) => 1,
        Error::Io(_) | Error::Tls(_) | Error::Timeout => 2,
        Error::Connection(ConnectionError::ConnAckTimeout) => 2,
        Error::Connection(ConnectionError::Refused(_)) | Error::SubscribeRefused(_) => 3,
        _ => 4,
    }
}

async fn run(a: Args) -> Result<(), Error> {
    let opts = options(&a)?;
    // Topics to publish to, checked before connecting.
    let mut topics = Vec::new();
    if a.publish {
        for t in &a.topics {
            topics.push(Topic::new(t.as_str()).map_err(UserError::from_topic)?);
        }
    }
    if a.debug {
        eprintln!("mq: connecting to {}:{} as '{}'", opts.host, opts.port, opts.config.client_id);
    }
    let (client, mut messages) = Client::connect(opts).await?;
    if a.debug {
        eprintln!("mq: connected");
    }
    if a.publish {
        let mut pending = Vec::new();
        let mut send = |payload: Vec<u8>| -> Result<(), Error> {
            for t in &topics {
                let m = Message::new(t.clone(), payload.clone(), a.qos).retain(a.retain);
                pending.push(client.start_publish(m)?);
            }
            Ok(())
        };
        match a.source.as_ref() {
            Some(Source::Message(m)) => send(m.clone())?,
            Some(Source::Null) => send(Vec::new())?,
            Some(Source::File(f)) => {
                let data =
                    std::fs::read(f).map_err(|e| Error::InvalidOptions(format!("{}: {e}", f.display())))?;
                send(data)?;
            }
            Some(Source::Stdin) => {
                let mut data = Vec::new();
                std::io::stdin().read_to_end(&mut data).map_err(stdin_error)?;
                send(data)?;
            }
            Some(Source::Lines) | None => {
                // Lines are read on a thread of their own, so each goes out as it is typed.
                let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
                std::thread::spawn(move || {
                    for line in std::io::stdin().lock().split(b'\n') {
                        if tx.blocking_send(line).is_err() {
                            return;
                        }
                    }
                });
                while let Some(line) = rx.recv().await {
                    let mut line = line.map_err(stdin_error)?;
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    send(line)?;
                }
            }
        }
        let n = pending.len();
        for p in pending {
            p.await?;
        }
        // Messages an earlier, interrupted run left in the session store (--session-dir).
        if let Some(restored) = client.restored() {
            if a.debug && !restored.ids.is_empty() {
                eprintln!("mq: completing {} message(s) restored from the session", restored.ids.len());
            }
            restored.all().await?;
        }
        if a.debug {
            eprintln!("mq: {n} message(s) published");
        }
    } else {
        let filters: Vec<(String, QoS)> = a.topics.iter().map(|t| (t.clone(), a.qos)).collect();
        let codes = client.subscribe_many(&filters).await?;
        for ((f, _), code) in filters.iter().zip(&codes) {
            match code {
                mq::codec::SubAckCode::Granted(q) if a.debug => {
                    eprintln!("mq: subscribed to {f} (QoS {})", *q as u8)
                }
                mq::codec::SubAckCode::Granted(_) => {}
                mq::codec::SubAckCode::Failure => return Err(Error::SubscribeRefused(f.clone())),
            }
        }
        let mut seen = 0u64;
        let stdout = std::io::stdout();
        while a.count.map_or(true, |c| seen < c) {
            let Some(m) = messages.recv().await else {
                return Err(match client.state() {
                    mq::native::State::Closed(Some(e)) => e,
                    _ => Error::Closed,
                });
            };
            let mut out = stdout.lock();
            let _ = if a.verbose { write!(out, "{} ", m.topic.as_str()) } else { Ok(()) };
            let _ = out.write_all(&m.payload);
            let _ = out.write_all(b"\n");
            let _ = out.flush();
            seen += 1;
        }
    }
    client.disconnect().await?;
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1).collect()) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("mq: {e}\n\n{USAGE}");
            return ExitCode::from(1);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(4, format!("cannot start the runtime: {e}")),
    };
    let timeout = args.timeout.map(Duration::from_secs);
    rt.block_on(async move {
        let work = run(args);
        let result = match timeout {
            Some(t) => match tokio::time::timeout(t, work).await {
                Ok(r) => r,
                Err(_) => return fail(27, format!("timed out after {}s", t.as_secs())),
            },
            None => work.await,
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(exit_code(&e), format!("{e} [{}]", e.code())),
        }
    })
}
