//! The decoder reserves memory for a message as its bytes arrive, never for what a length
//! prefix announces.
//!
//! A counting global allocator (the `stats_alloc` crate) records every allocation of the
//! process. This file holds a single test so that no other test thread allocates while it
//! measures.

#![forbid(unsafe_code)]

use std::alloc::System;
use std::time::Duration;

use mongo_topology_core::wire::framing::MessageReader;
use mongo_topology_core::wire::{MessageDecoder, WireError, MAX_MESSAGE_SIZE_BYTES};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tokio::io::AsyncWriteExt;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Far below the announced sizes (2 GiB, 48 MB), far above the decoder's read chunk (1 MiB).
const LARGE_ALLOCATION: usize = 4 * 1024 * 1024;

#[tokio::test]
async fn announced_lengths_reserve_no_memory() {
    // Above the limit: rejected from the 4 length bytes.
    let mut decoder = MessageDecoder::new(MAX_MESSAGE_SIZE_BYTES);
    let region = Region::new(GLOBAL);
    decoder.extend(&i32::MAX.to_le_bytes());
    let result = decoder.decode();
    let allocated = region.change().bytes_allocated;
    assert!(
        matches!(result, Err(WireError::BadLength { .. })),
        "{result:?}"
    );
    assert!(allocated < LARGE_ALLOCATION, "{allocated} bytes allocated");

    // Within the limit but never sent: memory follows the bytes received.
    let mut header = MAX_MESSAGE_SIZE_BYTES.to_le_bytes().to_vec();
    header.extend_from_slice(&[0u8; 12]);
    let (mut client, server) = tokio::io::duplex(64);
    client.write_all(&header).await.unwrap();
    let mut reader = MessageReader::new(server, MAX_MESSAGE_SIZE_BYTES);
    let region = Region::new(GLOBAL);
    let read = tokio::time::timeout(Duration::from_millis(50), reader.read_message()).await;
    let allocated = region.change().bytes_allocated;
    assert!(read.is_err(), "no message can be complete: {read:?}");
    assert_eq!(reader.decoder_mut().buffered_len(), 16);
    assert!(allocated < LARGE_ALLOCATION, "{allocated} bytes allocated");
}
