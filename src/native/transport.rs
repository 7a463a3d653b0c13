//! Opening the byte stream: TCP, a custom [`Connector`], then TLS on top if configured.

use super::{Error, Options};
use std::future::Future;
use std::io;
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A bidirectional byte stream the client can run MQTT over.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// A boxed [`Stream`].
pub type BoxStream = Box<dyn Stream>;

/// The future a [`Connector`] returns.
pub type ConnectFuture<'a> = Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + 'a>>;

/// Bring your own transport (as the Go client's custom Dialer): called for every connection
/// attempt, instead of opening TCP to `host:port`. Any closure
/// `Fn() -> impl Future<Output = io::Result<BoxStream>>` is a connector.
pub trait Connector: Send + Sync + 'static {
    fn connect(&self) -> ConnectFuture<'_>;
}

impl<F, Fut> Connector for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<BoxStream>> + Send + 'static,
{
    fn connect(&self) -> ConnectFuture<'_> {
        Box::pin(self())
    }
}

/// Opens the transport (custom connector or TCP), then TLS if the options ask for it.
pub(crate) async fn open(opts: &Options) -> Result<BoxStream, Error> {
    let raw: BoxStream = match &opts.connector {
        Some(c) => c.connect().await.map_err(Error::io)?,
        None => {
            let tcp = TcpStream::connect((opts.host.as_str(), opts.port)).await.map_err(Error::io)?;
            // MQTT packets are small and latency matters more than coalescing.
            tcp.set_nodelay(true).map_err(Error::io)?;
            Box::new(tcp)
        }
    };
    #[cfg(feature = "tls")]
    if let Some(tls) = &opts.tls {
        return super::tls::wrap(tls, &opts.host, raw).await;
    }
    Ok(raw)
}
