//! CONNECT [MQTT-3.1] and CONNACK [MQTT-3.2].

use super::topic::validate_topic_name;
use super::wire::{check_binary, check_remaining, check_str, write_binary, write_header, Reader};
use super::{ByteStr, CodecError, QoS, Topic};
use alloc::{borrow::ToOwned, string::String, vec::Vec};
use bytes::Bytes;

/// The will message a broker publishes when the connection drops without DISCONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastWill {
    /// Checked when it was made (see [`Topic`]).
    pub topic: Topic,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
}

/// CONNECT: the first packet a client sends [MQTT-3.1].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    pub client_id: String,
    pub clean_session: bool,
    /// Seconds; 0 turns keepalive off [MQTT-3.1.2.10].
    pub keep_alive: u16,
    pub will: Option<LastWill>,
    pub username: Option<String>,
    pub password: Option<Bytes>,
}

const PROTOCOL_NAME: &[u8] = b"MQTT";
const PROTOCOL_LEVEL: u8 = 4;

impl Connect {
    /// Validates and returns the remaining length.
    pub fn remaining_len(&self) -> Result<usize, CodecError> {
        // [MQTT-3.1.2-22]: no password without a user name.
        if self.password.is_some() && self.username.is_none() {
            return Err(CodecError::PasswordWithoutUsername);
        }
        let mut len = 2 + PROTOCOL_NAME.len() + 1 + 1 + 2;
        len += check_str(&self.client_id)?;
        if let Some(will) = &self.will {
            len += 2 + will.topic.len() + check_binary(&will.payload)?;
        }
        if let Some(u) = &self.username {
            len += check_str(u)?;
        }
        if let Some(p) = &self.password {
            len += check_binary(p)?;
        }
        check_remaining(len)
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>, len: usize) {
        write_header(out, 0x10, len);
        write_binary(out, PROTOCOL_NAME);
        out.push(PROTOCOL_LEVEL);
        let mut flags = 0u8;
        if self.clean_session {
            flags |= 0x02;
        }
        if let Some(w) = &self.will {
            flags |= 0x04 | ((w.qos as u8) << 3);
            if w.retain {
                flags |= 0x20;
            }
        }
        if self.password.is_some() {
            flags |= 0x40;
        }
        if self.username.is_some() {
            flags |= 0x80;
        }
        out.push(flags);
        out.extend_from_slice(&self.keep_alive.to_be_bytes());
        write_binary(out, self.client_id.as_bytes());
        if let Some(w) = &self.will {
            write_binary(out, w.topic.as_bytes());
            write_binary(out, &w.payload);
        }
        if let Some(u) = &self.username {
            write_binary(out, u.as_bytes());
        }
        if let Some(p) = &self.password {
            write_binary(out, p);
        }
    }

    pub(crate) fn decode(body: &[u8]) -> Result<Connect, CodecError> {
        let mut r = Reader::new(body);
        // [MQTT-3.1.2-1]: the protocol name is "MQTT".
        if r.binary()? != PROTOCOL_NAME {
            return Err(CodecError::InvalidProtocolName);
        }
        // [MQTT-3.1.2-2]: 4 is MQTT 3.1.1; anything else is unsupported here.
        let level = r.u8()?;
        if level != PROTOCOL_LEVEL {
            return Err(CodecError::UnsupportedProtocolLevel(level));
        }
        let flags = r.u8()?;
        // [MQTT-3.1.2-3]: the reserved flag is zero.
        if flags & 0x01 != 0 {
            return Err(CodecError::ConnectReservedFlag);
        }
        let will_flag = flags & 0x04 != 0;
        let will_qos = (flags >> 3) & 0x03;
        let will_retain = flags & 0x20 != 0;
        // [MQTT-3.1.2-11, -13, -15]: no will QoS or retain without the will flag.
        if !will_flag && (will_qos != 0 || will_retain) {
            return Err(CodecError::WillFlagsWithoutWill);
        }
        // [MQTT-3.1.2-14]: will QoS 3 is invalid.
        let will_qos = QoS::from_u8(will_qos)?;
        let has_password = flags & 0x40 != 0;
        let has_username = flags & 0x80 != 0;
        // [MQTT-3.1.2-22]: no password without a user name.
        if has_password && !has_username {
            return Err(CodecError::PasswordWithoutUsername);
        }
        let keep_alive = r.u16()?;
        // [MQTT-3.1.3-4]: the client id is a UTF-8 string.
        let client_id = r.str()?.to_owned();
        let will = if will_flag {
            let topic = r.str()?;
            validate_topic_name(topic)?;
            let topic = Topic::from_validated(ByteStr::from(topic));
            let payload = Bytes::copy_from_slice(r.binary()?);
            Some(LastWill { topic, payload, qos: will_qos, retain: will_retain })
        } else {
            None
        };
        let username = if has_username { Some(r.str()?.to_owned()) } else { None };
        let password = if has_password { Some(Bytes::copy_from_slice(r.binary()?)) } else { None };
        r.finish()?;
        Ok(Connect { client_id, clean_session: flags & 0x02 != 0, keep_alive, will, username, password })
    }
}

/// The CONNACK return code [MQTT-3.2.2.3].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ConnectReturnCode {
    Accepted = 0,
    UnacceptableProtocolVersion = 1,
    IdentifierRejected = 2,
    ServerUnavailable = 3,
    BadUsernameOrPassword = 4,
    NotAuthorized = 5,
}

impl ConnectReturnCode {
    pub fn from_u8(code: u8) -> Result<Self, CodecError> {
        use ConnectReturnCode::*;
        Ok(match code {
            0 => Accepted,
            1 => UnacceptableProtocolVersion,
            2 => IdentifierRejected,
            3 => ServerUnavailable,
            4 => BadUsernameOrPassword,
            5 => NotAuthorized,
            c => return Err(CodecError::InvalidConnAckCode(c)),
        })
    }

    /// The standard's words for the code.
    pub fn reason(self) -> &'static str {
        use ConnectReturnCode::*;
        match self {
            Accepted => "connection accepted",
            UnacceptableProtocolVersion => "unacceptable protocol version",
            IdentifierRejected => "identifier rejected",
            ServerUnavailable => "server unavailable",
            BadUsernameOrPassword => "bad user name or password",
            NotAuthorized => "not authorized",
        }
    }
}

/// CONNACK: the broker's answer to CONNECT [MQTT-3.2].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnAck {
    pub session_present: bool,
    pub code: ConnectReturnCode,
}

impl ConnAck {
    pub fn remaining_len(&self) -> Result<usize, CodecError> {
        // [MQTT-3.2.2-4]: a refusal never has session present.
        if self.session_present && self.code != ConnectReturnCode::Accepted {
            return Err(CodecError::SessionPresentWithRefusal);
        }
        Ok(2)
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[0x20, 0x02, self.session_present as u8, self.code as u8]);
    }

    pub(crate) fn decode(body: &[u8]) -> Result<ConnAck, CodecError> {
        let mut r = Reader::new(body);
        let flags = r.u8()?;
        // [MQTT-3.2.2-1]: bits 7-1 are reserved.
        if flags & 0xFE != 0 {
            return Err(CodecError::ConnAckReservedFlags);
        }
        let code = ConnectReturnCode::from_u8(r.u8()?)?;
        r.finish()?;
        let ack = ConnAck { session_present: flags == 1, code };
        ack.remaining_len()?;
        Ok(ack)
    }
}
