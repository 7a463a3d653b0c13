// The types of the MqttClient API beyond the class itself (which wasm-bindgen declares from
// src/wasm/client.rs): included in the generated mq.d.ts as a typescript_custom_section.
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
    /** QoS 1/2 messages, subscribes and unsubscribes awaiting their acknowledgement at once
     *  (default 100); more wait in the queue. */
    maxInflight?: number;
    /** Of those, QoS 2 messages awaiting PUBREC (default 19); past it the next QoS 2 message
     *  waits, and what was sent after it waits behind it. Keep it below the broker's quota of
     *  QoS 2 messages awaiting PUBREL (Mosquitto: 20, past which it silently drops any
     *  message): resent after a reconnect, a QoS 1 message must still find room. */
    maxInflightQos2?: number;
    /** Commands waiting, offline or past maxInflight (default 10000); past it: QUEUE_FULL. */
    maxQueued?: number;
    /** Largest packet accepted from the broker, in bytes (default 1048576). */
    maxPacketSize?: number;
    /** "tabs": every tab of the origin connecting with this URL and clientId shares one
     *  WebSocket and one session (a leader tab holds it, the others follow over a
     *  BroadcastChannel; see `role`). Needs clientId; implies clean: false and session
     *  "indexeddb" (clean: true or session "memory" with it are INVALID_ARGUMENT). Without Web
     *  Locks or BroadcastChannel the tab connects alone (a console warning; `role` "solo"). */
    share?: "tabs";
}
/** `client.role`: "solo" (a client of its own), "leader" (this tab holds the shared
 *  connection), "follower" (another tab does), "closed" (a shared client after end/destroy). */
export type MqttRole = "solo" | "leader" | "follower" | "closed";
export interface MqttPublishOptions { qos?: 0 | 1 | 2; retain?: boolean }
export interface MqttSubscribeOptions { qos?: 0 | 1 | 2 }
/** One granted filter; qos 128 means the broker refused it. */
export interface MqttGranted { topic: string; qos: 0 | 1 | 2 | 128 }
export interface MqttPacketInfo { qos: 0 | 1 | 2; retain: boolean; dup: boolean }
export interface MqttMessage { topic: string; payload: Uint8Array; qos: 0 | 1 | 2; retain: boolean }
/** `messages()`: at most `bufferSize` unread messages (default 1000). Past that, `"pause"` (the
 *  default) holds back the acknowledgements of QoS 1/2 messages until the app reads, so the
 *  broker stops sending them (nothing acknowledged is lost); a QoS 0 message replaces the oldest
 *  unread QoS 0 one. `"dropOldest"` drops the oldest unread message, whatever its QoS. */
export interface MqttMessagesOptions { bufferSize?: number; overflow?: "pause" | "dropOldest" }
/** The iterator `messages()` returns: `buffered` messages wait unread; `dropped` were dropped by
 *  its overflow policy. */
export interface MqttMessages extends AsyncIterableIterator<MqttMessage> { readonly buffered: number; readonly dropped: number }
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
