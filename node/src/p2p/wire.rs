//! `/manofwar/swarm/1`: the messages gateways exchange, over request-response (one stream per
//! request, so a slow piece never blocks another). BitTorrent's ideas on HLS segments: `Have`
//! is the bitfield, `Piece` the request, `Choked` the answer of a busy peer; a cancel is the
//! requester dropping the stream.
//!
//! Framing: a request is a length-prefixed JSON document (at most 64 KiB). A response is a
//! length-prefixed JSON header (at most 8 MiB, a manifest of a long film) followed by a
//! length-prefixed body (a piece, at most 64 MiB: a 4K segment fits). Anything else is a
//! protocol error: the stream fails and the peer is disconnected.

use libp2p::StreamProtocol;
use libp2p::futures::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use serde::{Deserialize, Serialize};
use std::io;

pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/manofwar/swarm/1");
const MAX_REQUEST: u32 = 64 * 1024;
const MAX_HEADER: u32 = 8 * 1024 * 1024;
pub const MAX_PIECE: u32 = 64 * 1024 * 1024;

/// What one gateway asks another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Request {
    /// The origin's items shared with the asker (as `/api/v1/items` lists them).
    Items,
    /// The origin's signed manifest of one item.
    Manifest { item: i64 },
    /// The item's poster (JPEG), from the origin.
    Poster { item: i64 },
    /// Which pieces of `origin`'s item the answering peer holds, verified.
    Have { origin: String, item: i64 },
    /// One piece (the manifest's `index`-th file) of `origin`'s item.
    Piece {
        origin: String,
        item: i64,
        index: u32,
    },
    /// Never sent: what the codec makes of a request that does not parse, so that the gateway
    /// learns who sent it (request-response reports a failed read to no one).
    #[serde(skip)]
    Malformed { reason: String },
}

/// The JSON part of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Header {
    Items {
        items: Vec<serde_json::Value>,
    },
    Manifest {
        manifest: crate::p2p::manifest::Signed,
    },
    Have {
        pieces: Vec<u32>,
    },
    /// The body holds the bytes.
    Piece,
    /// Not now (the upload is saturated): ask someone else.
    Choked,
    NotFound,
    /// Not for you: the library is not shared with the asker.
    Refused {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub header: Header,
    pub body: Vec<u8>,
}

impl Response {
    pub fn of(header: Header) -> Self {
        Self {
            header,
            body: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Codec;

impl libp2p::request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        let malformed = |reason: String| Request::Malformed { reason };
        Ok(match read_frame(io, MAX_REQUEST).await {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).unwrap_or_else(|e| malformed(e.to_string()))
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => malformed(e.to_string()),
            Err(e) => return Err(e),
        })
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        let header = serde_json::from_slice(&read_frame(io, MAX_HEADER).await?).map_err(invalid)?;
        let body = read_frame(io, MAX_PIECE).await?;
        Ok(Response { header, body })
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Request,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &serde_json::to_vec(&req)?).await?;
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Response,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &serde_json::to_vec(&res.header)?).await?;
        write_frame(io, &res.body).await?;
        io.close().await
    }
}

fn invalid(error: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

async fn read_frame<T: AsyncRead + Unpin>(io: &mut T, max: u32) -> io::Result<Vec<u8>> {
    let mut len = [0; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len);
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes is over the limit of {max}"),
        ));
    }
    let mut bytes = vec![0; len as usize];
    io.read_exact(&mut bytes).await?;
    Ok(bytes)
}

async fn write_frame<T: AsyncWrite + Unpin>(io: &mut T, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len()).map_err(invalid)?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(bytes).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::request_response::Codec as _;

    fn run<F: std::future::Future>(f: F) -> F::Output {
        libp2p::futures::FutureExt::now_or_never(f).expect("in-memory I/O is ready")
    }

    #[test]
    fn requests_and_responses_round_trip() {
        let request = Request::Piece {
            origin: "o".into(),
            item: 3,
            index: 7,
        };
        let mut buf = libp2p::futures::io::Cursor::new(Vec::new());
        run(Codec.write_request(&PROTOCOL, &mut buf, request.clone())).unwrap();
        buf.set_position(0);
        assert_eq!(
            run(Codec.read_request(&PROTOCOL, &mut buf)).unwrap(),
            request
        );

        let response = Response {
            header: Header::Piece,
            body: vec![1, 2, 3],
        };
        let mut buf = libp2p::futures::io::Cursor::new(Vec::new());
        run(Codec.write_response(&PROTOCOL, &mut buf, response.clone())).unwrap();
        buf.set_position(0);
        assert_eq!(
            run(Codec.read_response(&PROTOCOL, &mut buf)).unwrap(),
            response
        );
    }

    #[test]
    fn oversized_and_malformed_frames_are_errors() {
        let mut huge = libp2p::futures::io::Cursor::new(u32::MAX.to_be_bytes().to_vec());
        let Request::Malformed { reason } = run(Codec.read_request(&PROTOCOL, &mut huge)).unwrap()
        else {
            panic!("an oversized request is malformed")
        };
        assert!(reason.contains("over the limit"), "{reason}");
        let mut junk = libp2p::futures::io::Cursor::new([&3u32.to_be_bytes()[..], b"{{{"].concat());
        let read = run(Codec.read_request(&PROTOCOL, &mut junk)).unwrap();
        assert!(matches!(read, Request::Malformed { .. }), "{read:?}");
        let mut huge = libp2p::futures::io::Cursor::new(u32::MAX.to_be_bytes().to_vec());
        assert!(run(Codec.read_response(&PROTOCOL, &mut huge)).is_err());
        let mut short = libp2p::futures::io::Cursor::new(vec![0, 0]);
        assert!(run(Codec.read_request(&PROTOCOL, &mut short)).is_err());
    }
}
