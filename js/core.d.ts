// The contract between the npm package's JS driver (js/mq.js) and the wasm core (src/npm/,
// loaded and wrapped by js/core.js). The core is the sans-IO `proto::Client` with the codec,
// nothing else: no sockets, timers, IndexedDB or promises. Time is always an argument, `now`, in
// milliseconds from `performance.now()` (any monotonic millisecond clock works).
//
// Nothing here throws anything but a `CoreError` (a plain `Error` with `code`), and nothing a
// caller passes can make the wasm panic: bad input is an error, never a trap.

/** An `Error` with a stable `code` (the proto error types' `code()`; `SESSION_CORRUPT` for a
 *  record that does not parse) and, for a refused CONNECT, `returnCode`. */
export interface CoreError extends Error { code: string; returnCode?: number }

/** Loads and instantiates the wasm module once; later calls return the same promise.
 *  `input`: a URL or string (fetched), a Response or Promise<Response>, a BufferSource, or a
 *  WebAssembly.Module; default `new URL("./mq_bg.wasm", import.meta.url)`. Also accepts
 *  `{ module_or_path: input }` (wasm-bindgen's init signature, for compatibility). */
export function load(input?: unknown): Promise<void>;
/** Synchronous instantiation from bytes or a WebAssembly.Module (`initSync` equivalent). */
export function loadSync(input: BufferSource | WebAssembly.Module | { module: BufferSource | WebAssembly.Module }): void;
export function isLoaded(): boolean;

export interface CoreConfig {
  clientId: string;            // "" asks the broker to assign one (only with clean: true)
  clean: boolean;
  keepalive: number;           // seconds, 0..=65535; 0 = off
  pingTimeout?: number;        // ms; undefined = one keepalive interval
  connectTimeout: number;      // ms to wait for CONNACK after the transport opened
  username?: string;
  password?: Uint8Array;
  will?: { topic: string; payload: Uint8Array; qos: 0 | 1 | 2; retain: boolean };
  maxInflight: number;
  maxQueued: number;
  maxPacketSize: number;
}

/** One store operation, in order. `value` undefined: delete the record at `key`. `key` is
 *  `StoreKey`'s string form ("o00012", "i00003", "q00000000000000000007", "s"). */
export interface StoreOp { key: string; value?: Uint8Array }

export type CoreEvent =
  | { type: "connected"; sessionPresent: boolean }
  /** `error` is a CoreError built from proto's ConnectionError (code(), message(), returnCode
   *  for a refusal). `retryable`: ConnectionError::is_retryable(). `requested`: it was
   *  ConnectionError::Requested (our own DISCONNECT). */
  | { type: "disconnected"; error: CoreError; retryable: boolean; requested: boolean }
  | { type: "message"; topic: string; payload: Uint8Array; qos: 0 | 1 | 2; retain: boolean; dup: boolean; pkid: number }
  | { type: "published"; id: number }
  /** codes: SUBACK return codes, 0/1/2 granted QoS, 0x80 failure, in filter order. */
  | { type: "subscribed"; id: number; codes: number[] }
  | { type: "unsubscribed"; id: number };

/** What `Core.poll()` drained, in the core's order: store ops first (to be persisted before the
 *  bytes are sent), then the bytes to send (possibly empty), then events. `timeout`: when
 *  `handleTimeout` must be called next (ms, same clock as `now`), or undefined for none. */
export interface Polled { ops: StoreOp[]; bytes: Uint8Array; events: CoreEvent[]; timeout: number | undefined }

/** A session's records as JS sees them (the npm API's MqttSession). `id` is the request id. */
export interface SessionView {
  inflight: { id: number; pkid: number; qos: 1 | 2; state: "sent" | "released"; topic?: string; payload?: Uint8Array; retain?: boolean }[];
  queued: { id: number; qos: 0 | 1 | 2; topic: string; payload: Uint8Array; retain: boolean }[];
  incoming: number[];
  subscriptions: { topic: string; qos: number }[];
}

export class Core {
  /** Client::new (records empty) or Client::restore. Throws CoreError: the config's
   *  validation error (INVALID_ARGUMENT / INVALID_TOPIC / TOO_LARGE), SESSION_CORRUPT. */
  constructor(config: CoreConfig, records: Uint8Array[]);
  /** Frees the wasm side; the object must not be used afterwards (methods then throw CLOSED). */
  free(): void;

  readonly connected: boolean;      // Client::is_connected
  readonly clientId: string;        // config().client_id
  readonly inflight: number;
  readonly queued: number;

  handleConnected(now: number): void;
  handleBytes(now: number, data: Uint8Array): void;
  handleTimeout(now: number): void;
  handleClosed(now: number): void;
  /** Client::handle_delivered: true if it produced a store op (then call pollStore()). */
  handleDelivered(pkid: number, pubrecSent: boolean): boolean;
  disconnect(now: number): void;

  /** Request ids (u64 in Rust, exact as a JS number below 2^53). Throw CoreError (UserError). */
  publish(now: number, topic: string, payload: Uint8Array, qos: 0 | 1 | 2, retain: boolean): number;
  subscribe(now: number, filters: [string, 0 | 1 | 2][]): number;
  unsubscribe(now: number, filters: string[]): number;

  poll(): Polled;
  /** Only the store ops (after handleDelivered). */
  pollStore(): StoreOp[];
  /** Client::session_records as stored bytes (what a store holding every op so far has). */
  records(): Uint8Array[];
}

/** Parses stored records (as from IndexedDB) into the JS view. Throws SESSION_CORRUPT. */
export function describeRecords(records: Uint8Array[]): SessionView;
