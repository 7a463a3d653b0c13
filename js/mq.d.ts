// mq-wasm: an MQTT 3.1.1 client for browsers and Web Workers (MQTT over WebSockets).
// The shared types (MqttConnectOptions, MqttSession, ...) are in types.d.ts, which
// scripts/build-pkg.sh puts in front of this in pkg/mq.d.ts.

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
