//! Frames: a 4-byte big-endian payload length, then a bincode payload.
//!
//! The length is checked against a maximum before anything is allocated, so a
//! peer cannot make the other side reserve memory by announcing a huge frame.
//! A payload must decode to exactly one message with no bytes left over.

use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest payload either side accepts (16 MiB).
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

const LEN_PREFIX: usize = 4;

#[derive(Debug, Error)]
pub enum FrameError {
    #[error("connection closed in the middle of a frame")]
    Truncated,
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("malformed frame: {0}")]
    Malformed(String),
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

/// Decodes one payload (without its length prefix) into a message.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    let (message, used) = bincode::serde::decode_from_slice(payload, config())
        .map_err(|e| FrameError::Malformed(e.to_string()))?;
    if used != payload.len() {
        return Err(FrameError::Malformed(format!(
            "{} trailing bytes after the message",
            payload.len() - used
        )));
    }
    Ok(message)
}

/// Reads one payload. `Ok(None)` is a clean end of stream between frames.
pub async fn read_payload<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<Option<Vec<u8>>, FrameError> {
    let mut prefix = [0u8; LEN_PREFIX];
    let mut filled = 0;
    while filled < LEN_PREFIX {
        let n = reader.read(&mut prefix[filled..]).await?;
        if n == 0 {
            return if filled == 0 {
                Ok(None)
            } else {
                Err(FrameError::Truncated)
            };
        }
        filled += n;
    }
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge {
            len,
            max: MAX_FRAME_LEN,
        });
    }
    let mut payload = vec![0u8; len];
    reader
        .read_exact(&mut payload)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => FrameError::Truncated,
            _ => FrameError::Io(e),
        })?;
    Ok(Some(payload))
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
