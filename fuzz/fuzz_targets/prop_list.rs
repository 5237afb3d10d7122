//! The streaming ObjectPropList reader that listing uses (`PropListReader`), fed the
//! data phase in pieces of fuzzer-chosen sizes, against decoding the same bytes whole.
//! The first byte seeds the piece sizes; the rest is the dataset. Both must agree:
//! the same elements in the same order when either accepts, never a panic. The
//! stream also refuses bytes after the declared elements (a count that is too small
//! would otherwise hide objects), so the whole form it is held to must end there too;
//! `Codec::decode` alone ignores what follows a dataset.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mtpull::ptp::{Codec, ObjectPropList, PropListReader, Reader};

fuzz_target!(|input: &[u8]| {
    let Some((&seed, bytes)) = input.split_first() else {
        return;
    };
    let mut reader = PropListReader::new();
    let mut streamed = Vec::new();
    let mut rest = bytes;
    let mut step = usize::from(seed);
    let mut outcome = Ok(());
    while !rest.is_empty() && outcome.is_ok() {
        // Piece sizes 1..=64 that vary from piece to piece, as USB packets and reads do.
        let (piece, tail) = rest.split_at((step % 64 + 1).min(rest.len()));
        outcome = reader.push(piece, &mut |entry| streamed.push(entry));
        step = step.wrapping_mul(31).wrapping_add(7);
        rest = tail;
    }
    let streamed_whole = outcome.and_then(|()| reader.finish());
    let mut whole = Reader::new(bytes);
    let whole_list = ObjectPropList::read(&mut whole).ok().filter(|_| whole.remaining() == 0);
    match whole_list {
        Some(list) => {
            assert!(streamed_whole.is_ok(), "whole decode accepted, stream refused: {streamed_whole:?}");
            assert_eq!(streamed, list.entries);
        }
        None => assert!(streamed_whole.is_err(), "stream accepted what the whole decode refused"),
    }
});
