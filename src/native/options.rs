//! What to connect to and how: broker address, URL parsing, session store, transport.

use super::session_store::OpenStore;
use super::transport::Connector;
use super::{Error, Reconnect, SessionStore};
use crate::proto::Config;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// Everything [`Client::connect`](super::Client::connect) needs.
#[derive(Clone)]
pub struct Options {
    /// Broker host name or IP address (also the TLS server name unless
    /// [`TlsOptions::server_name`](super::TlsOptions::server_name) says otherwise).
    pub host: String,
    pub port: u16,
    /// The MQTT session: client id, clean session, keepalive, will, credentials, limits.
    pub config: Config,
    /// TLS on top of the transport (`mqtts://`).
    #[cfg(feature = "tls")]
    pub tls: Option<super::TlsOptions>,
    pub reconnect: Reconnect,
    /// Keep the session in a directory under this one, named after the broker and the client id
    /// (see [`FileStore`](super::FileStore)). `None` (and no `store`): the session lives in
    /// this client only.
    pub session_dir: Option<PathBuf>,
    /// Keep the session in a store of your own (SQLite, sled, a [`MemoryStore`](super::MemoryStore)
    /// shared between clients, ...), opened once per `connect`; see [`Options::with_store`].
    /// Not together with `session_dir`.
    pub store: Option<OpenStore>,
    /// Bring your own stream instead of TCP (TLS, if set, still goes on top).
    pub connector: Option<Arc<dyn Connector>>,
    /// How many incoming messages wait for the application, and what happens past that.
    pub messages: MessageBuffer,
}

/// The bound on incoming messages the application has not taken yet from
/// [`Messages`](super::Messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageBuffer {
    /// Messages that wait in the stream (at least 1). Default 1024.
    pub capacity: usize,
    pub overflow: Overflow,
}

impl Default for MessageBuffer {
    fn default() -> Self {
        MessageBuffer { capacity: 1024, overflow: Overflow::Pause }
    }
}

/// What happens to an incoming message that finds the [`MessageBuffer`] full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// The driver stops reading the socket until the application takes a message, so TCP pushes
    /// back on the broker, which holds the rest within its own limits (Mosquitto keeps at most
    /// `max_queued_messages` QoS 1/2 messages per client past its in-flight window, 1,000 by
    /// default, and drops what comes past that). Nothing is dropped by the client. What one read of
    /// the socket (64 KiB) brought waits in the driver on top of `capacity`. Keepalive goes on:
    /// PINGREQ is still sent, and the PINGRESP that cannot be read yet is not awaited.
    #[default]
    Pause,
    /// The message is dropped (it was acknowledged already: QoS 1 and 2 messages are lost
    /// too), and counted by [`Client::dropped`](super::Client::dropped). Reading never stops.
    DropNew,
}

impl core::fmt::Debug for Options {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut d = f.debug_struct("Options");
        d.field("host", &self.host).field("port", &self.port);
        d.field("client_id", &self.config.client_id);
        #[cfg(feature = "tls")]
        d.field("tls", &self.tls.is_some());
        d.field("reconnect", &self.reconnect).field("session_dir", &self.session_dir);
        d.field("store", &self.store.is_some());
        d.field("connector", &self.connector.is_some());
        d.field("messages", &self.messages).finish_non_exhaustive()
    }
}

impl Options {
    /// Plain TCP to `host:port`, the default [`Config`] and reconnecting on.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Options {
            host: host.into(),
            port,
            config: Config::default(),
            #[cfg(feature = "tls")]
            tls: None,
            reconnect: Reconnect::default(),
            session_dir: None,
            store: None,
            connector: None,
            messages: MessageBuffer::default(),
        }
    }

    /// Parses `mqtt://[user[:password]@]host[:port][/?client_id=ID]` (port 1883) or
    /// `mqtts://...` (TLS with the default roots, port 8883). `tcp://` and `ssl://` are
    /// accepted as synonyms. IPv6 hosts go in brackets.
    pub fn from_url(url: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::InvalidUrl(format!("{why}: {url}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("a URL needs a scheme"))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => false,
            "mqtts" | "ssl" | "tls" => true,
            _ => return Err(bad("unknown scheme (mqtt:// or mqtts://)")),
        };
        let (authority, tail) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            (h, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| bad("bad port"))?,
            None if tls => 8883,
            None => 1883,
        };
        let mut o = Options::new(host, port);
        if let Some(u) = userinfo {
            let (user, pass) = match u.split_once(':') {
                Some((a, b)) => (a, Some(b)),
                None => (u, None),
            };
            o.config.username = Some(percent_decode(user).map_err(|_| bad("bad user name"))?);
            o.config.password = pass
                .map(|p| percent_decode(p).map(|s| s.into_bytes().into()))
                .transpose()
                .map_err(|_| bad("bad password"))?;
        }
        if let Some((_, query)) = tail.split_once('?') {
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let v = percent_decode(v).map_err(|_| bad("bad query value"))?;
                match k {
                    "client_id" | "clientId" => o.config.client_id = v,
                    _ => return Err(bad(&format!("unknown parameter '{k}'"))),
                }
            }
        }
        if tls {
            #[cfg(feature = "tls")]
            {
                o.tls = Some(super::TlsOptions::default());
            }
            #[cfg(not(feature = "tls"))]
            return Err(bad("mqtts:// needs the `tls` feature"));
        }
        Ok(o)
    }

    /// Sets the client id.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.config.client_id = id.into();
        self
    }

    /// Keeps the session in the store `open` returns, called once per
    /// [`Client::connect`](super::Client::connect) with these options (their host, port and
    /// client id name the session). `|_| Ok(memory.clone())` resumes, within this process, the
    /// session a client stopped with left in a [`MemoryStore`](super::MemoryStore).
    pub fn with_store<S: SessionStore>(
        mut self,
        open: impl Fn(&Options) -> io::Result<S> + Send + Sync + 'static,
    ) -> Self {
        self.store = Some(Arc::new(move |o: &Options| Ok(Box::new(open(o)?) as Box<dyn SessionStore>)));
        self
    }

    /// Opens the session store the options name, if any.
    pub(crate) fn open_store(&self) -> Result<Option<Box<dyn SessionStore>>, Error> {
        let store = |e| Error::Store(Arc::new(e));
        match (&self.store, &self.session_dir) {
            (Some(_), Some(_)) => Err(Error::InvalidOptions("both `store` and `session_dir` are set".into())),
            (Some(open), None) => open(self).map(Some).map_err(store),
            (None, Some(root)) => {
                let s = super::FileStore::open(root, &self.broker_name(), &self.config.client_id)
                    .map_err(store)?;
                Ok(Some(Box::new(s)))
            }
            (None, None) => Ok(None),
        }
    }

    /// The broker's name in file store paths: `host_port`.
    pub(crate) fn broker_name(&self) -> String {
        format!("{}_{}", self.host, self.port)
    }
}

fn percent_decode(s: &str) -> Result<String, ()> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or(())?;
            let hex = core::str::from_utf8(hex).map_err(|_| ())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let o = Options::from_url("mqtt://127.0.0.1:1884").unwrap();
        assert_eq!((o.host.as_str(), o.port), ("127.0.0.1", 1884));
        let o = Options::from_url("mqtt://u%40x:p%3Aw@broker/?client_id=abc").unwrap();
        assert_eq!((o.host.as_str(), o.port), ("broker", 1883));
        assert_eq!(o.config.username.as_deref(), Some("u@x"));
        assert_eq!(o.config.password.as_deref(), Some(&b"p:w"[..]));
        assert_eq!(o.config.client_id, "abc");
        let o = Options::from_url("mqtt://[::1]:99").unwrap();
        assert_eq!((o.host.as_str(), o.port), ("::1", 99));
        for bad in ["http://x", "mqtt://:1", "mqtt://x:99999", "x", "mqtt://x/?nope=1"] {
            let Err(e) = Options::from_url(bad) else { panic!("{bad} parsed") };
            assert_eq!(e.code(), crate::proto::ErrorCode::InvalidUrl, "{bad}");
        }
    }

    #[cfg(feature = "tls")]
    #[test]
    fn mqtts_defaults_to_8883_with_tls() {
        let o = Options::from_url("mqtts://h").unwrap();
        assert_eq!(o.port, 8883);
        assert!(o.tls.is_some());
    }
}
