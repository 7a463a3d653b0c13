//! The npm package's wasm core: [`proto::Client`](crate::proto::Client) and the codec behind
//! plain C-ABI exports, without wasm-bindgen. `js/core.js` loads the module (it imports
//! nothing) and wraps these exports in the `Core` class of `js/core.d.ts`; `js/mq.js` drives it.
//!
//! The binary layout between the two is private to this module and `js/core.js`:
//!
//! - **Input.** JS asks for an input buffer of `n` bytes with `mq_in(n)` (its address; 0 when
//!   memory cannot grow), writes the call's variable-length arguments there, then calls the
//!   export, which reads them. The arguments are a sequence of *parts*: a field (a `u32` length,
//!   little-endian, then that many bytes; length `0xFFFF_FFFF` for an absent one, no bytes) or a
//!   `f64` (8 bytes, little-endian). Scalars travel as the export's own `f64` / `i32` parameters.
//! - **Result.** Every export but `mq_in`, `mq_out` and `mq_out_len` returns an `f64`: a value
//!   (a handle, a request id, a count, 0 or 1) when it is `>= 0`, an error when it is `-1`.
//! - **Output.** What a call produces beyond its number is in the output buffer, `mq_out_len()`
//!   bytes at `mq_out()`, until the next call. After an error it holds the error: the code
//!   (field), the message (field), the CONNACK return code (`u8`, 0 for none). Items, each a tag
//!   byte and its data (fields, `u8`, `u16` and `f64` little-endian), are listed in [`out`].
//!
//! Nothing JS passes can panic: bad handles, short or malformed input, bad UTF-8 (JS encodes a
//! string with a lone surrogate as invalid UTF-8), numbers out of range or not integers, QoS 3,
//! corrupt records: each is an error with a code. A panic would trap, and a trap kills every
//! client of the page.
//!
//! Handles are never reused (a counter), so a freed one stays invalid (`CLOSED`). JS runs one
//! thread and the core calls nothing back, so no export runs while another does.

mod out;

use crate::codec::{ByteStr, CodecError, LastWill, QoS};
use crate::proto::{Client, Config, Instant, Message, RestoreError, StoreRecord, UserError};
use alloc::{string::String, vec::Vec};
use bytes::Bytes;
use core::cell::UnsafeCell;
use core::time::Duration;
use out::Out;

/// The crate is `no_std` in the npm core's build (see lib.rs), so the panic handler is ours: a
/// trap, without formatting anything (no panic is reachable from what JS passes; this is for
/// bugs).
#[cfg(all(feature = "npm-module", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(target_feature = "atomics")]
compile_error!("the npm core keeps its state in plain statics: build it without the atomics feature");

/// Everything the exports share: one input and one output buffer, and the live clients.
struct State {
    input: Vec<u8>,
    out: Out,
    clients: Vec<(f64, Client)>,
    /// The last handle given out (handles are 1, 2, 3, ...; exact as f64 below 2^53).
    last: f64,
}

struct Global(UnsafeCell<State>);

// SAFETY: wasm32 without the atomics feature (checked above) runs one thread.
unsafe impl Sync for Global {}

static STATE: Global = Global(UnsafeCell::new(State {
    input: Vec::new(),
    out: Out(Vec::new()),
    clients: Vec::new(),
    last: 0.0,
}));

/// The shared state. Each export takes it once, at its start, and nothing it calls takes it
/// again (the core never calls out), so there is never a second reference.
fn state() -> &'static mut State {
    // SAFETY: one thread, and one reference at a time (see above).
    unsafe { &mut *STATE.0.get() }
}

/// An error for JS: a code, a message and, for a refused CONNECT, the CONNACK return code.
pub(crate) struct Failure {
    code: &'static str,
    message: String,
    return_code: u8,
}

type R<T> = Result<T, Failure>;

fn fail(code: &'static str, message: &str) -> Failure {
    Failure { code, message: message.into(), return_code: 0 }
}

fn invalid(message: &str) -> Failure {
    fail("INVALID_ARGUMENT", message)
}

fn user(e: UserError) -> Failure {
    Failure { code: e.code(), message: e.message(), return_code: 0 }
}

fn restore_error(e: RestoreError) -> Failure {
    match e {
        RestoreError::Config(e) => user(e),
        e => Failure { code: "SESSION_CORRUPT", message: e.message(), return_code: 0 },
    }
}

/// Reads the input parts of a call.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn take<const N: usize>(&mut self) -> R<[u8; N]> {
        match self.0.split_first_chunk::<N>() {
            Some((a, rest)) => {
                self.0 = rest;
                Ok(*a)
            }
            None => Err(invalid("malformed call")),
        }
    }

    /// A field: `None` when absent.
    fn field(&mut self) -> R<Option<&'a [u8]>> {
        let n = u32::from_le_bytes(self.take()?);
        if n == u32::MAX {
            return Ok(None);
        }
        match self.0.split_at_checked(n as usize) {
            Some((a, rest)) => {
                self.0 = rest;
                Ok(Some(a))
            }
            None => Err(invalid("malformed call")),
        }
    }

    /// A field that must be present.
    fn bytes(&mut self) -> R<&'a [u8]> {
        self.field()?.ok_or_else(|| invalid("malformed call"))
    }

    fn f64(&mut self) -> R<f64> {
        Ok(f64::from_le_bytes(self.take()?))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// UTF-8 or the error `bad` makes of [`CodecError::InvalidUtf8`].
fn utf8(b: &[u8], bad: fn(CodecError) -> UserError) -> R<&str> {
    core::str::from_utf8(b).map_err(|_| user(bad(CodecError::InvalidUtf8)))
}

fn bad_config(_: CodecError) -> UserError {
    UserError::InvalidConfig("a string is not well-formed UTF-8")
}

/// An integer in `0..=max`, or an `INVALID_ARGUMENT` saying `what`.
fn int(x: f64, max: f64, what: &str) -> R<u64> {
    // NaN fails both comparisons; the cast saturates, so a fraction changes the value.
    if x >= 0.0 && x <= max && (x as u64) as f64 == x {
        Ok(x as u64)
    } else {
        Err(invalid(what))
    }
}

fn qos(q: f64) -> R<QoS> {
    match int(q, 2.0, "qos must be 0, 1 or 2")? {
        0 => Ok(QoS::AtMostOnce),
        1 => Ok(QoS::AtLeastOnce),
        _ => Ok(QoS::ExactlyOnce),
    }
}

/// The largest integer a JS number holds exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// `Bytes` of `b`, or TOO_LARGE when memory cannot hold the copy (an allocation that fails
/// would trap).
fn copy(b: &[u8]) -> R<Bytes> {
    let mut v = Vec::new();
    v.try_reserve_exact(b.len()).map_err(|_| fail("TOO_LARGE", "not enough memory for the payload"))?;
    v.extend_from_slice(b);
    Ok(Bytes::from(v))
}

/// Ends an export: its value, or -1 with the error in the output buffer. The input is used up:
/// an export reached without a fresh `mq_in` reads nothing.
fn done(st: &mut State, r: R<f64>) -> f64 {
    st.input.clear();
    match r {
        Ok(v) => v,
        Err(f) => {
            st.out.clear();
            st.out.field(f.code.as_bytes());
            st.out.field(f.message.as_bytes());
            st.out.u8(f.return_code);
            -1.0
        }
    }
}

fn client(clients: &mut [(f64, Client)], h: f64) -> R<&mut Client> {
    match clients.iter_mut().find(|(id, _)| *id == h) {
        Some((_, c)) => Ok(c),
        None => Err(fail("CLOSED", "the core was freed")),
    }
}

/// Runs `f` on the client with handle `h` and the call's input; the output buffer starts empty.
fn with(h: f64, f: impl FnOnce(&mut Client, Input, &mut Out) -> R<f64>) -> f64 {
    let st = state();
    st.out.clear();
    let r = match client(&mut st.clients, h) {
        Ok(c) => f(c, Input(&st.input), &mut st.out),
        Err(e) => Err(e),
    };
    done(st, r)
}

/// Reserves the input buffer for a call: `len` bytes at the returned address, 0 when memory
/// cannot grow.
#[no_mangle]
pub extern "C" fn mq_in(len: usize) -> *mut u8 {
    let input = &mut state().input;
    input.clear();
    if input.try_reserve(len).is_err() {
        return core::ptr::null_mut();
    }
    input.resize(len, 0);
    input.as_mut_ptr()
}

/// The output buffer's address.
#[no_mangle]
pub extern "C" fn mq_out() -> *const u8 {
    state().out.0.as_ptr()
}

/// The output buffer's length.
#[no_mangle]
pub extern "C" fn mq_out_len() -> usize {
    state().out.0.len()
}

/// `Client::new` or `Client::restore`: a handle. Input: client id, user name (or absent),
/// password (or absent), will topic (absent: no will), will payload, then the records. Times
/// in milliseconds, `ping_timeout` -1 for none.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn mq_new(
    clean: u32,
    keepalive: f64,
    ping_timeout: f64,
    connect_timeout: f64,
    max_inflight: f64,
    max_queued: f64,
    max_packet_size: f64,
    will_qos: f64,
    will_retain: u32,
) -> f64 {
    let st = state();
    st.out.clear();
    let r = new_client(
        Input(&st.input),
        clean != 0,
        [keepalive, ping_timeout, connect_timeout, max_inflight, max_queued, max_packet_size],
        will_qos,
        will_retain != 0,
    );
    let r = r.map(|c| {
        st.last += 1.0;
        st.clients.push((st.last, c));
        st.last
    });
    done(st, r)
}

fn new_client(mut input: Input, clean: bool, n: [f64; 6], will_qos: f64, will_retain: bool) -> R<Client> {
    let [keepalive, ping_timeout, connect_timeout, max_inflight, max_queued, max_packet_size] = n;
    let mut config = Config::new(utf8(input.bytes()?, bad_config)?);
    config.clean_session = clean;
    config.keep_alive =
        Duration::from_secs(int(keepalive, 65535.0, "keepalive must be an integer in 0..=65535")?);
    if ping_timeout != -1.0 {
        let ms = int(ping_timeout, MAX_SAFE, "pingTimeout must be a non-negative integer (ms)")?;
        config.ping_timeout = Some(Duration::from_millis(ms));
    }
    let ms = int(connect_timeout, MAX_SAFE, "connectTimeout must be a non-negative integer (ms)")?;
    config.connect_timeout = Duration::from_millis(ms);
    const U32: f64 = u32::MAX as f64;
    config.max_inflight = int(max_inflight, U32, "maxInflight must be an integer in 1..=65535")? as usize;
    config.max_queued = int(max_queued, U32, "maxQueued must be an integer in 0..=4294967295")? as usize;
    config.max_packet_size =
        int(max_packet_size, U32, "maxPacketSize must be an integer in 16..=268435460")? as usize;
    if let Some(u) = input.field()? {
        config.username = Some(utf8(u, bad_config)?.into());
    }
    config.password = input.field()?.map(Bytes::copy_from_slice);
    let topic = input.field()?;
    let payload = input.field()?;
    if let Some(topic) = topic {
        config.will = Some(LastWill {
            topic: utf8(topic, UserError::InvalidTopic)?.into(),
            payload: Bytes::copy_from_slice(payload.unwrap_or_default()),
            qos: qos(will_qos)?,
            retain: will_retain,
        });
    }
    let mut records = Vec::new();
    while !input.is_empty() {
        records.push(StoreRecord::from_bytes(input.bytes()?).map_err(restore_error)?);
    }
    if records.is_empty() {
        Client::new(config).map_err(user)
    } else {
        Client::restore(config, records).map_err(restore_error)
    }
}

/// Frees a client. A handle already freed is no error.
#[no_mangle]
pub extern "C" fn mq_free(h: f64) -> f64 {
    let clients = &mut state().clients;
    if let Some(i) = clients.iter().position(|(id, _)| *id == h) {
        clients.swap_remove(i);
    }
    0.0
}

/// A getter: 0 `is_connected` (0 or 1), 1 `inflight`, 2 `queued`, 3 or more the client id (in the
/// output buffer, as bare UTF-8).
#[no_mangle]
pub extern "C" fn mq_get(h: f64, what: u32) -> f64 {
    with(h, |c, _, out| {
        Ok(match what {
            0 => f64::from(u8::from(c.is_connected())),
            1 => c.inflight() as f64,
            2 => c.queued() as f64,
            _ => {
                out.0.extend_from_slice(c.config().client_id.as_bytes());
                0.0
            }
        })
    })
}

/// An input at `now` (ms): 0 `handle_connected`, 1 `handle_bytes` (input: the bytes, one
/// field), 2 `handle_timeout`, 3 `handle_closed`, 4 `disconnect`.
#[no_mangle]
pub extern "C" fn mq_input(h: f64, what: u32, now: f64) -> f64 {
    let now = Instant::from_millis_f64(now);
    with(h, |c, mut input, _| {
        match what {
            0 => c.handle_connected(now),
            1 => c.handle_bytes(now, input.bytes()?),
            2 => c.handle_timeout(now),
            3 => c.handle_closed(now),
            _ => c.disconnect(now),
        }
        Ok(0.0)
    })
}

/// `handle_delivered`: 1 if it made a store op, else 0.
#[no_mangle]
pub extern "C" fn mq_delivered(h: f64, pkid: f64, pubrec_sent: u32) -> f64 {
    with(h, |c, _, _| {
        let pkid = int(pkid, 65535.0, "pkid must be an integer in 0..=65535")? as u16;
        Ok(f64::from(u8::from(c.handle_delivered(pkid, pubrec_sent != 0))))
    })
}

/// `publish`: the request id. Input: topic, payload.
#[no_mangle]
pub extern "C" fn mq_publish(h: f64, now: f64, q: f64, retain: u32) -> f64 {
    with(h, |c, mut input, _| {
        let topic = utf8(input.bytes()?, UserError::InvalidTopic)?;
        let payload = copy(input.bytes()?)?;
        let message = Message { topic: ByteStr::from(topic), payload, qos: qos(q)?, retain: retain != 0 };
        let id = c.publish(Instant::from_millis_f64(now), message).map_err(user)?;
        Ok(id.0 as f64)
    })
}

/// `subscribe`: the request id. Input: per filter, the filter and its QoS (`f64`).
#[no_mangle]
pub extern "C" fn mq_subscribe(h: f64, now: f64) -> f64 {
    with(h, |c, mut input, _| {
        let mut filters = Vec::new();
        while !input.is_empty() {
            let filter = utf8(input.bytes()?, UserError::InvalidFilter)?;
            filters.push((filter, qos(input.f64()?)?));
        }
        let id = c.subscribe(Instant::from_millis_f64(now), &filters).map_err(user)?;
        Ok(id.0 as f64)
    })
}

/// `unsubscribe`: the request id. Input: the filters.
#[no_mangle]
pub extern "C" fn mq_unsubscribe(h: f64, now: f64) -> f64 {
    with(h, |c, mut input, _| {
        let mut filters = Vec::new();
        while !input.is_empty() {
            filters.push(utf8(input.bytes()?, UserError::InvalidFilter)?);
        }
        let id = c.unsubscribe(Instant::from_millis_f64(now), &filters).map_err(user)?;
        Ok(id.0 as f64)
    })
}

/// Drains the outputs into the output buffer (see [`out::poll`]); `store_only`: the store ops
/// alone.
#[no_mangle]
pub extern "C" fn mq_poll(h: f64, store_only: u32) -> f64 {
    with(h, |c, _, out| {
        out.poll(c, store_only != 0);
        Ok(0.0)
    })
}

/// `session_records` as stored bytes: one field each.
#[no_mangle]
pub extern "C" fn mq_records(h: f64) -> f64 {
    with(h, |c, _, out| {
        for r in c.session_records() {
            out.field(&r.to_bytes());
        }
        Ok(0.0)
    })
}

/// Parses stored records (input: one field each) into the items of [`out::describe`].
#[no_mangle]
pub extern "C" fn mq_describe() -> f64 {
    let st = state();
    st.out.clear();
    let mut input = Input(&st.input);
    let mut r = Ok(0.0);
    while !input.is_empty() {
        match input.bytes().and_then(|b| StoreRecord::from_bytes(b).map_err(restore_error)) {
            Ok(record) => st.out.describe(&record),
            Err(e) => {
                r = Err(e);
                break;
            }
        }
    }
    done(st, r)
}
