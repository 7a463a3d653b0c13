//! Real brokers on free loopback ports for the native tests: Mosquitto (TCP, TLS, passwords,
//! persistence) and aedes (node), certificates made with the openssl CLI. Every broker is
//! killed when its handle drops; every temporary directory is removed.
#![allow(dead_code)]

pub mod proxy;

use mq::native::{Client, Messages, Options, Reconnect};
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub const HOST: &str = "127.0.0.1";

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind((HOST, 0)).expect("bind 127.0.0.1:0").local_addr().unwrap().port()
}

/// A directory removed on drop, readable by Mosquitto's unprivileged user (755, files 644).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("mq-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        chmod(&p, 0o755);
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes a file world-readable (644).
    pub fn write(&self, name: &str, data: &str) -> PathBuf {
        let p = self.0.join(name);
        fs::write(&p, data).unwrap();
        chmod(&p, 0o644);
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// Waits until something accepts TCP connections on `port` (the broker is up); an error if
/// the process exited first (a port taken meanwhile, say).
#[allow(clippy::disallowed_methods)] // Polling a child process's port; not a timing.
fn wait_listening(port: u16, what: &str, child: &mut Child) -> Result<(), String> {
    for _ in 0..200 {
        if TcpStream::connect((HOST, port)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{what} exited before listening on {port}: {status}"));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(format!("{what} is not listening on {port} after 5 s"))
}

/// A Mosquitto broker with a plain TCP listener on `port` plus whatever `extra` configures.
pub struct Mosquitto {
    pub port: u16,
    pub dir: TempDir,
    conf: PathBuf,
    ports: Vec<u16>,
    child: Option<Child>,
}

impl Mosquitto {
    pub fn start() -> Mosquitto {
        Mosquitto::with_config("allow_anonymous true\n")
    }

    /// `extra` is appended to the configuration (after `listener PORT 127.0.0.1`); `{dir}` in
    /// it stands for the broker's directory.
    pub fn with_config(extra: &str) -> Mosquitto {
        Mosquitto::with_setup(|_| (extra.to_owned(), vec![]))
    }

    /// `setup` gets the broker's directory (to write certificates, password files) and returns
    /// the extra configuration and the extra ports it listens on.
    pub fn with_setup(setup: impl FnMut(&Path) -> (String, Vec<u16>)) -> Mosquitto {
        Mosquitto::start_with(None, setup)
    }

    /// [`with_setup`](Mosquitto::with_setup) with the main listener on a chosen port.
    pub fn on_port(port: u16, setup: impl FnMut(&Path) -> (String, Vec<u16>)) -> Mosquitto {
        Mosquitto::start_with(Some(port), setup)
    }

    /// A free port can be taken (by another test's outgoing connection) before the broker binds
    /// it: the start is retried with fresh ports, so `setup` may run more than once.
    fn start_with(fixed: Option<u16>, mut setup: impl FnMut(&Path) -> (String, Vec<u16>)) -> Mosquitto {
        let mut last = String::new();
        for _ in 0..5 {
            let dir = TempDir::new("mosquitto");
            // {dir}/data: writable by the unprivileged user Mosquitto drops to (persistence).
            let data = dir.path().join("data");
            fs::create_dir(&data).unwrap();
            chmod(&data, 0o777);
            let port = fixed.unwrap_or_else(free_port);
            let (extra, mut ports) = setup(dir.path());
            let conf =
                format!("listener {port} {HOST}\n{}", extra.replace("{dir}", dir.path().to_str().unwrap()));
            let conf = dir.write("mosquitto.conf", &conf);
            ports.insert(0, port);
            let mut m = Mosquitto { port, dir, conf, ports, child: None };
            match m.run() {
                Ok(()) => return m,
                Err(e) => last = format!("{e}\n{}", m.log()),
            }
        }
        panic!("mosquitto did not start: {last}");
    }

    /// Starts the broker again after `stop` (same configuration, ports and files).
    pub fn restart(&mut self) {
        let mut last = String::new();
        for _ in 0..5 {
            match self.run() {
                Ok(()) => return,
                Err(e) => last = e,
            }
        }
        panic!("mosquitto did not restart: {last}\n{}", self.log());
    }

    /// Starts the broker process; waits for every port to listen.
    fn run(&mut self) -> Result<(), String> {
        let log =
            fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("log.txt")).unwrap();
        let mut child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("mosquitto (Debian package) on PATH");
        for &p in &self.ports {
            wait_listening(p, "mosquitto", &mut child)?;
        }
        self.child = Some(child);
        Ok(())
    }

    /// Stops the broker with SIGTERM (it saves its persistence file) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("mqtt://{HOST}:{}", self.port)
    }

    pub fn options(&self, client_id: &str) -> Options {
        Options::new(HOST, self.port).client_id(client_id)
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("log.txt")).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The aedes broker (tests/aedes, node) on a free port.
pub struct Aedes {
    pub port: u16,
    child: Child,
}

impl Aedes {
    pub fn start() -> Aedes {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aedes");
        assert!(
            root.join("node_modules/aedes").is_dir(),
            "run scripts/setup.sh (npm install in tests/aedes)"
        );
        let port = free_port();
        let mut child = Command::new("node")
            .arg(root.join("server.js"))
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node on PATH");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "aedes did not start");
        Aedes { port, child }
    }

    pub fn options(&self, client_id: &str) -> Options {
        Options::new(HOST, self.port).client_id(client_id)
    }
}

impl Drop for Aedes {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the openssl CLI in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl on PATH");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Certificates made at test time: `ca.crt` signs `server` (127.0.0.1 and broker.test),
/// `wronghost` (other.example only), `expired` (127.0.0.1, already expired) and `client`;
/// `rogue-ca.crt` signs `untrusted` (127.0.0.1).
pub struct Certs {
    pub dir: PathBuf,
}

impl Certs {
    pub fn generate(dir: &Path) -> Certs {
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
        for ca in ["ca", "rogue-ca"] {
            let (key, crt, subj) = (format!("{ca}.key"), format!("{ca}.crt"), format!("/CN=mq test {ca}"));
            let mut a = vec!["req", "-x509"];
            a.extend(ec);
            a.extend(["-keyout", &key, "-out", &crt, "-subj", &subj, "-days", "2"]);
            openssl(dir, &a);
        }
        let leaf = |name: &str, ca: &str, san: &str, days: &str, client: bool| {
            let (key, csr, crt) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"));
            let subj = format!("/CN={name}");
            let mut a = vec!["req"];
            a.extend(ec);
            a.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
            openssl(dir, &a);
            let usage = if client { "clientAuth" } else { "serverAuth" };
            let ext = format!("{name}.ext");
            fs::write(dir.join(&ext), format!("subjectAltName={san}\nextendedKeyUsage={usage}\n")).unwrap();
            let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    &ca_crt,
                    "-CAkey",
                    &ca_key,
                    "-CAcreateserial",
                    "-out",
                    &crt,
                    "-days",
                    days,
                    "-extfile",
                    &ext,
                ],
            );
        };
        leaf("server", "ca", "IP:127.0.0.1,DNS:broker.test", "2", false);
        leaf("wronghost", "ca", "DNS:other.example", "2", false);
        leaf("expired", "ca", "IP:127.0.0.1", "-1", false);
        leaf("untrusted", "rogue-ca", "IP:127.0.0.1", "2", false);
        leaf("client", "ca", "DNS:client", "2", true);
        for e in fs::read_dir(dir).unwrap() {
            chmod(&e.unwrap().path(), 0o644);
        }
        Certs { dir: dir.to_path_buf() }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Connects with reconnecting off (a test wants to see the first failure).
pub async fn connect(mut o: Options) -> (Client, Messages) {
    o.reconnect = Reconnect::disabled();
    Client::connect(o).await.expect("connect")
}

/// The next message within 10 s (a hang is a failure, not a timing).
pub async fn next(m: &mut Messages) -> mq::codec::Publish {
    tokio::time::timeout(Duration::from_secs(10), m.recv())
        .await
        .expect("no message within 10 s")
        .expect("message stream ended")
}

/// Whether a message arrives within `ms` (for "nothing arrives" checks).
pub async fn none_within(m: &mut Messages, ms: u64) -> bool {
    tokio::time::timeout(Duration::from_millis(ms), m.recv()).await.is_err()
}

/// Bounds any await in a test: 30 s, then the test fails instead of hanging.
pub async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f).await.expect("timed out after 30 s")
}

/// A password file for Mosquitto with one user.
pub fn password_file(dir: &Path, user: &str, pass: &str) -> PathBuf {
    let p = dir.join("passwd");
    let st =
        Command::new("mosquitto_passwd").arg("-b").arg("-c").arg(&p).arg(user).arg(pass).output().unwrap();
    assert!(st.status.success(), "mosquitto_passwd: {}", String::from_utf8_lossy(&st.stderr));
    chmod(&p, 0o644);
    p
}
