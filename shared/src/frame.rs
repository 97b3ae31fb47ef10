//! Frames: a 4-byte big-endian payload length, then a bincode payload.
//!
//! What a peer can make the other side hold is bounded three ways:
//! - the announced length is checked against a maximum before anything is
//!   read (and a reader may ask for a smaller one, see [`read_payload_within`]);
//! - the payload buffer grows as bytes arrive, never to the announced length
//!   up front, and a frame once begun must finish within a deadline;
//! - decoding is charged against a memory budget ([`decode_budget`]), so a
//!   small frame cannot decode into a large message (one byte of empty string
//!   on the wire is 24 in memory).
//!
//! A payload must decode to exactly one message with no bytes left over.

mod budget;

use bincode::de::read::Reader;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest payload either side accepts (16 MiB).
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// The largest `Hello` the daemon reads: it is a magic, a number and a name.
pub const MAX_HELLO_LEN: usize = 4 * 1024;

/// What a decoded message may take beyond twice its payload's size.
pub const DECODE_SLACK: usize = 64 * 1024;

const LEN_PREFIX: usize = 4;

/// The payload buffer grows by at most this much per read.
const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug, Error)]
pub enum FrameError {
    #[error("connection closed in the middle of a frame")]
    Truncated,
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("a frame of {len} bytes decodes to more than {budget} bytes of memory")]
    DecodesTooLarge { len: usize, budget: usize },
    #[error("a frame was begun but not finished within {}s", .after.as_secs_f64())]
    Deadline { after: Duration },
    #[error("could not encode message: {0}")]
    Encode(String),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_FRAME_LEN>()
}

/// Encodes a message as a whole frame, length prefix included.
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, FrameError> {
    let mut out = vec![0u8; LEN_PREFIX];
    bincode::serde::encode_into_std_write(message, &mut out, config())
        .map_err(|e| FrameError::Encode(e.to_string()))?;
    let len = out.len() - LEN_PREFIX;
    if len > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge {
            len,
            max: MAX_FRAME_LEN,
        });
    }
    out[..LEN_PREFIX].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(out)
}

/// The most memory any decoded message may take (what a client allows the
/// daemon's answers; lists of records are several times their wire size).
pub const MAX_DECODED_LEN: usize = 16 * MAX_FRAME_LEN;

/// The memory a request of `len` bytes may decode into, as the daemon
/// allows it: twice its size plus [`DECODE_SLACK`]. Real requests stay well
/// inside (text and bytes are about their wire size); a frame of empty
/// strings or empty lists does not.
pub fn decode_budget(len: usize) -> usize {
    len.saturating_mul(2).saturating_add(DECODE_SLACK)
}

/// Decodes one payload (without its length prefix) into a message of at
/// most [`MAX_DECODED_LEN`] bytes in memory.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    decode_within(payload, MAX_DECODED_LEN)
}

/// Decodes one payload, failing once the message would take more than
/// `budget` bytes of memory (counted before each element is built).
pub fn decode_within<T: DeserializeOwned>(payload: &[u8], budget: usize) -> Result<T, FrameError> {
    let too_large = || FrameError::DecodesTooLarge {
        len: payload.len(),
        budget,
    };
    let charged = budget::Budget::new(budget);
    if budget < std::mem::size_of::<T>() {
        return Err(too_large());
    }
    let mut reader = SliceRead { rest: payload };
    let result = {
        let mut decoder = bincode::serde::OwnedSerdeDecoder::from_reader(&mut reader, config());
        T::deserialize(budget::Charged {
            inner: decoder.as_deserializer(),
            budget: &charged,
        })
    };
    let message = match result {
        Ok(m) => m,
        Err(_) if charged.exhausted() => return Err(too_large()),
        Err(e) => return Err(FrameError::Malformed(e.to_string())),
    };
    if !reader.rest.is_empty() {
        return Err(FrameError::Malformed(format!(
            "{} trailing bytes after the message",
            reader.rest.len()
        )));
    }
    Ok(message)
}

/// bincode's reader over a slice, keeping what is left so trailing bytes can be told.
struct SliceRead<'a> {
    rest: &'a [u8],
}

impl Reader for SliceRead<'_> {
    fn read(&mut self, out: &mut [u8]) -> Result<(), bincode::error::DecodeError> {
        if out.len() > self.rest.len() {
            return Err(bincode::error::DecodeError::UnexpectedEnd {
                additional: out.len() - self.rest.len(),
            });
        }
        let (head, tail) = self.rest.split_at(out.len());
        out.copy_from_slice(head);
        self.rest = tail;
        Ok(())
    }

    fn peek_read(&mut self, n: usize) -> Option<&[u8]> {
        self.rest.get(..n)
    }

    fn consume(&mut self, n: usize) {
        self.rest = &self.rest[n.min(self.rest.len())..];
    }
}

/// Reads one payload of at most [`MAX_FRAME_LEN`] bytes, with no deadline.
/// `Ok(None)` is a clean end of stream between frames.
pub async fn read_payload<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<Option<Vec<u8>>, FrameError> {
    read_payload_within(reader, MAX_FRAME_LEN, None).await
}

/// Reads one payload of at most `max_len` bytes (checked before the payload
/// is read). Waiting for a frame to begin has no limit here; once its first
/// byte has arrived, the whole frame must arrive within `deadline`. The
/// buffer grows as bytes arrive, so a peer that announces a large frame and
/// stalls holds only what it sent. `Ok(None)` is a clean end of stream
/// between frames.
pub async fn read_payload_within<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_len: usize,
    deadline: Option<Duration>,
) -> Result<Option<Vec<u8>>, FrameError> {
    let mut prefix = [0u8; LEN_PREFIX];
    if reader.read(&mut prefix[..1]).await? == 0 {
        return Ok(None);
    }
    let rest = read_rest(reader, prefix, max_len);
    match deadline {
        None => rest.await.map(Some),
        Some(after) => tokio::time::timeout(after, rest)
            .await
            .map_err(|_| FrameError::Deadline { after })?
            .map(Some),
    }
}

/// The rest of a frame whose first prefix byte is in `prefix[0]`.
async fn read_rest<R: AsyncRead + Unpin>(
    reader: &mut R,
    mut prefix: [u8; LEN_PREFIX],
    max_len: usize,
) -> Result<Vec<u8>, FrameError> {
    let mut filled = 1;
    while filled < LEN_PREFIX {
        let n = reader.read(&mut prefix[filled..]).await?;
        if n == 0 {
            return Err(FrameError::Truncated);
        }
        filled += n;
    }
    let len = u32::from_be_bytes(prefix) as usize;
    let max = max_len.min(MAX_FRAME_LEN);
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    let mut payload = Vec::with_capacity(len.min(READ_CHUNK));
    while payload.len() < len {
        let old = payload.len();
        payload.resize(old + (len - old).min(READ_CHUNK), 0);
        let n = reader.read(&mut payload[old..]).await?;
        payload.truncate(old + n);
        if n == 0 {
            return Err(FrameError::Truncated);
        }
    }
    Ok(payload)
}

/// Reads and decodes one message. `Ok(None)` is a clean end of stream.
pub async fn read_message<T: DeserializeOwned, R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<Option<T>, FrameError> {
    match read_payload(reader).await? {
        Some(payload) => decode(&payload).map(Some),
        None => Ok(None),
    }
}

/// Encodes and writes one message, then flushes.
pub async fn write_message<T: Serialize, W: AsyncWrite + Unpin>(
    writer: &mut W,
    message: &T,
) -> Result<(), FrameError> {
    let frame = encode(message)?;
    writer.write_all(&frame).await?;
    writer.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::*;

    #[tokio::test]
    async fn a_frame_round_trips_and_eof_between_frames_is_clean() {
        let hello = Hello::new("test");
        let bytes = encode(&hello).unwrap();
        let mut reader = &bytes[..];
        let back: Hello = read_message(&mut reader).await.unwrap().unwrap();
        assert_eq!(back, hello);
        assert!(
            read_message::<Hello, _>(&mut reader)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn oversized_length_is_rejected_before_reading_the_payload() {
        let prefix = ((MAX_FRAME_LEN + 1) as u32).to_be_bytes();
        let mut reader = &prefix[..];
        let err = read_payload(&mut reader).await.unwrap_err();
        assert!(
            matches!(err, FrameError::TooLarge { len, .. } if len == MAX_FRAME_LEN + 1),
            "{err}"
        );
    }

    #[tokio::test]
    async fn truncated_prefix_and_payload_are_errors() {
        let bytes = encode(&Hello::new("x")).unwrap();
        let mut short_prefix = &bytes[..2];
        assert!(matches!(
            read_payload(&mut short_prefix).await,
            Err(FrameError::Truncated)
        ));
        let mut short_payload = &bytes[..bytes.len() - 1];
        assert!(matches!(
            read_payload(&mut short_payload).await,
            Err(FrameError::Truncated)
        ));
    }

    #[test]
    fn a_small_frame_of_empty_strings_cannot_decode_into_a_large_message() {
        // The 2 MB ImportOnnx of empty feature names that decoded to ~63 MiB.
        let n = 2_000_000;
        let request = ClientFrame {
            id: crate::ids::RequestId(1),
            request: Request::ImportOnnx {
                name: "m".into(),
                features: vec![String::new(); n],
                labels: None,
                onnx: vec![],
            },
        };
        let payload = encode(&request).unwrap()[LEN_PREFIX..].to_vec();
        assert!(payload.len() < 2_100_000, "{}", payload.len());
        let budget = decode_budget(payload.len());
        let err = decode_within::<ClientFrame>(&payload, budget).unwrap_err();
        assert!(
            matches!(err, FrameError::DecodesTooLarge { budget: b, .. } if b == budget),
            "{err}"
        );
        // The same names, few enough, decode.
        let request = ClientFrame {
            id: crate::ids::RequestId(1),
            request: Request::ImportOnnx {
                name: "m".into(),
                features: (0..1000).map(|i| format!("feature_{i}")).collect(),
                labels: Some(vec!["a".into(), "b".into()]),
                onnx: vec![7; 1_000_000],
            },
        };
        let payload = encode(&request).unwrap()[LEN_PREFIX..].to_vec();
        let budget = decode_budget(payload.len());
        assert_eq!(
            decode_within::<ClientFrame>(&payload, budget).unwrap(),
            request
        );
    }

    #[tokio::test]
    async fn a_smaller_maximum_is_enforced_before_the_payload_is_read() {
        let bytes = encode(&Hello::new("x".repeat(MAX_HELLO_LEN))).unwrap();
        let mut reader = &bytes[..];
        let err = read_payload_within(&mut reader, MAX_HELLO_LEN, None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, FrameError::TooLarge { max, .. } if max == MAX_HELLO_LEN),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_frame_begun_must_finish_within_the_deadline() {
        let (mut client, mut server) = tokio::io::duplex(1 << 20);
        // Announce 16 MiB, send 100 KiB, stall.
        client
            .write_all(&(MAX_FRAME_LEN as u32).to_be_bytes())
            .await
            .unwrap();
        client.write_all(&vec![0u8; 100 * 1024]).await.unwrap();
        let err = read_payload_within(&mut server, MAX_FRAME_LEN, Some(Duration::from_secs(3)))
            .await
            .unwrap_err();
        assert!(
            matches!(err, FrameError::Deadline { after } if after == Duration::from_secs(3)),
            "{err}"
        );
        // Waiting for a frame to begin is not limited by the deadline.
        let (mut client, mut server) = tokio::io::duplex(1024);
        let read = tokio::spawn(async move {
            read_payload_within(&mut server, MAX_FRAME_LEN, Some(Duration::from_secs(1))).await
        });
        tokio::time::sleep(Duration::from_secs(30)).await;
        client
            .write_all(&encode(&Hello::new("late")).unwrap())
            .await
            .unwrap();
        let payload = read.await.unwrap().unwrap().unwrap();
        assert_eq!(decode::<Hello>(&payload).unwrap(), Hello::new("late"));
    }

    #[test]
    fn garbage_and_trailing_bytes_are_malformed() {
        assert!(matches!(
            decode::<ClientFrame>(&[0xff; 7]),
            Err(FrameError::Malformed(_))
        ));
        let mut payload = encode(&Hello::new("x")).unwrap()[LEN_PREFIX..].to_vec();
        payload.push(0);
        let err = decode::<Hello>(&payload).unwrap_err();
        assert!(err.to_string().contains("trailing"), "{err}");
    }
}
