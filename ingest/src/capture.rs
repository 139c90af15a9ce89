//! Recorded firehose frames: each frame as a 4-byte big-endian length
//! followed by the frame's bytes, exactly as its WebSocket message held them.

use std::io::{self, Read, Write};

/// Writes one frame.
pub fn write_frame(out: &mut impl Write, frame: &[u8]) -> io::Result<()> {
    let len = u32::try_from(frame.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame over 4 GiB"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(frame)
}

/// The largest frame read back; relays cap their frames far below this,
/// so a larger length means a corrupt file, not a big frame.
const MAX_FRAME: usize = 64 << 20;

/// Reads the next frame, or `None` at the end.
pub fn read_frame(input: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes: the capture is corrupt"),
        ));
    }
    let mut frame = vec![0; len];
    input
        .read_exact(&mut frame)
        .map_err(|err| io::Error::new(err.kind(), format!("a frame cut short: {err}")))?;
    Ok(Some(frame))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_a_cut_frame_is_an_error() {
        let mut file = vec![];
        write_frame(&mut file, b"one").unwrap();
        write_frame(&mut file, b"").unwrap();
        let mut input = &file[..];
        assert_eq!(read_frame(&mut input).unwrap(), Some(b"one".to_vec()));
        assert_eq!(read_frame(&mut input).unwrap(), Some(vec![]));
        assert_eq!(read_frame(&mut input).unwrap(), None);
        let mut cut = &file[..5];
        assert!(read_frame(&mut cut).is_err());
    }
}
