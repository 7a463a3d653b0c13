// mq-wasm: an MQTT 3.1.1 client for browsers and Web Workers (MQTT over WebSockets).
/** An outgoing QoS 1/2 message in flight. `state` "released": PUBREC came, only PUBREL is left
 *  (no topic or payload then). */
export interface MqttInflight { id: number; pkid: number; qos: 1 | 2; state: "sent" | "released"; topic?: string; payload?: Uint8Array; retain?: boolean }
/** A message waiting to be sent (offline, or past maxInflight). */
export interface MqttQueued { id: number; qos: 0 | 1 | 2; topic: string; payload: Uint8Array; retain: boolean }
/** The session's records: in-flight and queued messages, incoming QoS 2 packet ids not yet
 *  released, and the granted subscriptions. */
export interface MqttSession { inflight: MqttInflight[]; queued: MqttQueued[]; incoming: number[]; subscriptions: MqttGranted[] }



/** Options of `MqttClient.connect`. Times in milliseconds unless said otherwise. */
export interface MqttConnectOptions {
    /** Default: a random "mq-..." id. */
    clientId?: string;
    /** Start a new session (default true) or resume the stored one. */
    clean?: boolean;
    /** Seconds, default 60; 0 turns keepalive off. */
    keepalive?: number;
    username?: string;
    /** Never stored. */
    password?: string | Uint8Array;
    will?: { topic: string; payload: string | Uint8Array; qos?: 0 | 1 | 2; retain?: boolean };
    /** Default: "indexeddb" when clean is false, else "memory". */
    session?: "memory" | "indexeddb";
    /** Reconnect with exponential backoff and jitter (default on: 1000..30000 ms). */
    reconnect?: boolean | { minDelay?: number; maxDelay?: number };
    /** Time for the WebSocket to open and for CONNACK to arrive (default 30000). */
    connectTimeout?: number;
    maxInflight?: number;
    maxQueued?: number;
    maxPacketSize?: number;
}
export interface MqttPublishOptions { qos?: 0 | 1 | 2; retain?: boolean }
export interface MqttSubscribeOptions { qos?: 0 | 1 | 2 }
/** One granted filter; qos 128 means the broker refused it. */
export interface MqttGranted { topic: string; qos: 0 | 1 | 2 | 128 }
export interface MqttPacketInfo { qos: 0 | 1 | 2; retain: boolean; dup: boolean }
export interface MqttMessage { topic: string; payload: Uint8Array; qos: 0 | 1 | 2; retain: boolean }
/** A request restored from IndexedDB and not yet complete. `topic` and `payload` are absent for
 *  a QoS 2 message the broker already has (only its PUBREL is left). */
export interface MqttRestored { id: number; kind: "publish"; qos: 1 | 2 | 0; topic?: string; payload?: Uint8Array }
/** Every rejection and "error" event: an Error with a stable code, e.g. CONNECT_REFUSED (with
 *  returnCode), INVALID_ARGUMENT, INVALID_TOPIC, INVALID_URL, QUEUE_FULL, TOO_LARGE, CLOSED,
 *  TIMEOUT, KEEPALIVE_TIMEOUT, CONNECTION_LOST, CONNECTION_FAILED, PROTOCOL_ERROR, STORE_FAILED,
 *  SESSION_CORRUPT, SESSION_LOCKED. */
export interface MqttError extends Error { code: string; returnCode?: number }
export type MqttEventName = "message" | "connect" | "reconnect" | "offline" | "close" | "error" | "restored";
export type MqttMessageHandler = (topic: string, payload: Uint8Array, packet: MqttPacketInfo) => void;
/** `on`, one signature per event, so that handlers are typed from the event's name. */
export interface MqttClient {
    on(event: "message", handler: MqttMessageHandler): void;
    on(event: "connect", handler: (info: { sessionPresent: boolean }) => void): void;
    on(event: "error", handler: (error: MqttError) => void): void;
    on(event: "restored", handler: (request: MqttRestored) => void): void;
    on(event: "reconnect" | "offline" | "close", handler: () => void): void;
}

/** An MQTT 3.1.1 client over a WebSocket. */
export class MqttClient {
  private constructor();
  /** Connects; resolves after CONNACK 0 with the client, rejects with the reason otherwise.
   *  Loads the wasm module first if `init()` was not called. */
  static connect(url: string, options?: MqttConnectOptions): Promise<MqttClient>;
  /** Deletes the session stored in IndexedDB for this broker URL and client id. */
  static clearSession(url: string, clientId: string): Promise<void>;
  /** The session stored in IndexedDB for this broker URL and client id, read without connecting. */
  static storedSession(url: string, clientId: string): Promise<MqttSession>;
  /** QoS 0 resolves once sent or queued, QoS 1 on PUBACK, QoS 2 on PUBCOMP. */
  publish(topic: string, payload: string | Uint8Array | ArrayBuffer | ArrayBufferView, options?: MqttPublishOptions): Promise<void>;
  /** Resolves with `[{ topic, qos }]`, qos 128 for a filter the broker refused. */
  subscribe(topics: string | string[], options?: MqttSubscribeOptions): Promise<MqttGranted[]>;
  unsubscribe(topics: string | string[]): Promise<void>;
  /** Removes the most recent registration of `handler` for `event`. */
  off(event: MqttEventName, handler: Function): void;
  /** An async iterator over the messages that arrive from now on. */
  messages(): AsyncIterableIterator<MqttMessage>;
  /** Sends DISCONNECT and closes. Pending requests reject with CLOSED; a stored session stays. */
  end(): Promise<void>;
  /** Closes without DISCONNECT, like a crash: the broker publishes the will, and the stored
   *  session is resumed by the next client with the same URL and id. */
  destroy(): void;
  /** Resolves once everything issued so far is stored (IndexedDB sessions). */
  persisted(): Promise<void>;
  /** The session as it stands: in-flight and queued messages, incoming QoS 2 packet ids and
   *  subscriptions (for an IndexedDB session, what the store holds once `persisted()` resolved). */
  session(): MqttSession;
  /** Bytes waiting to go out (in the WebSocket and in the client). */
  readonly bufferedAmount: number;
  readonly clientId: string;
  readonly connected: boolean;
  /** Requests restored from IndexedDB that have not completed yet. */
  readonly restored: MqttRestored[];
}

/** Where the wasm module comes from: a URL (fetched), a Response, its bytes, or a compiled module.
 *  Default: `mq_bg.wasm` next to this file (`new URL("mq_bg.wasm", import.meta.url)`). */
export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;
export type SyncInitInput = BufferSource | WebAssembly.Module;

/** Instantiates the wasm module from bytes or a compiled module, synchronously. */
export function initSync(module: { module: SyncInitInput } | SyncInitInput): void;

/** Loads the wasm module (once; later calls return the same promise). Optional:
 *  `MqttClient.connect` and `storedSession` load it when needed. */
export default function init(module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>): Promise<void>;
