//! Named, reproducible random streams.
//!
//! # Contract
//! Every random draw in the project comes from a [`ChaCha8Rng`] obtained here.
//! A stream is identified by (master seed, grid index, replicate, [`Purpose`]):
//! the first three form the 256-bit ChaCha key (little-endian words, fourth word
//! zero) and the purpose is the ChaCha stream (nonce). The map is injective, so
//! two different units never share a stream, and adding a new purpose never
//! shifts an existing stream (purpose ids are fixed constants, never reused).
//!
//! Inside a unit, components that need many independent seeds (folds × roles,
//! trees of a forest) derive child seeds with [`derive_seed`], a SplitMix64-style
//! mixing of the parent seed and integer tags. Child streams are then opened with
//! [`rng_from_seed`]. None of this depends on thread count or scheduling.
//!
//! `thread_rng`, `StdRng` and global state are never used.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What a random stream is used for. The discriminants are stable ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum Purpose {
    /// Drawing a scenario's data set (queries, labels, split).
    Data = 1,
    /// Cross-fitting fold assignment.
    Folds = 2,
    /// Seeds for learners (random features, forests, subsampling).
    Learner = 3,
    /// Bootstrap resampling.
    Bootstrap = 4,
    /// The `random` routing reference.
    Evaluation = 5,
    /// Sample splitting for inference (policy value).
    Split = 6,
    /// Large fixed-seed samples used to compute population constants.
    Truth = 7,
}

/// The stream for (master seed, grid index, replicate, purpose).
pub fn stream(master_seed: u64, grid_index: u64, replicate: u64, purpose: Purpose) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[0..8].copy_from_slice(&master_seed.to_le_bytes());
    key[8..16].copy_from_slice(&grid_index.to_le_bytes());
    key[16..24].copy_from_slice(&replicate.to_le_bytes());
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream(purpose as u64);
    rng
}

/// A seed for (master seed, grid index, replicate, purpose), for components that
/// take a `u64` seed (learners, estimators).
pub fn seed_for(master_seed: u64, grid_index: u64, replicate: u64, purpose: Purpose) -> u64 {
    derive_seed(
        derive_seed(master_seed, &[grid_index, replicate]),
        &[purpose as u64],
    )
}

/// A ChaCha8 stream from a single `u64` seed (used for child seeds).
pub fn rng_from_seed(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Mixes a parent seed with integer tags into a child seed (SplitMix64 finalizer
/// applied after each tag). Different tag lists give unrelated seeds.
pub fn derive_seed(parent: u64, tags: &[u64]) -> u64 {
    let mut state = splitmix(parent ^ 0x6A09_E667_F3BC_C908);
    for (position, &tag) in tags.iter().enumerate() {
        state = splitmix(state ^ splitmix(tag.wrapping_add((position as u64 + 1) << 56)));
    }
    state
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_differ_by_every_component() {
        let base = stream(7, 0, 0, Purpose::Data).next_u64();
        assert_ne!(base, stream(8, 0, 0, Purpose::Data).next_u64());
        assert_ne!(base, stream(7, 1, 0, Purpose::Data).next_u64());
        assert_ne!(base, stream(7, 0, 1, Purpose::Data).next_u64());
        assert_ne!(base, stream(7, 0, 0, Purpose::Folds).next_u64());
        assert_eq!(base, stream(7, 0, 0, Purpose::Data).next_u64());
    }

    #[test]
    fn derived_seeds_depend_on_tag_order_and_count() {
        let a = derive_seed(1, &[2, 3]);
        assert_ne!(a, derive_seed(1, &[3, 2]));
        assert_ne!(a, derive_seed(1, &[2, 3, 0]));
        assert_ne!(derive_seed(1, &[]), derive_seed(1, &[0]));
        assert_eq!(a, derive_seed(1, &[2, 3]));
    }

    #[test]
    fn stream_values_are_pinned() {
        // Pins the contract: changing the key layout would change every study.
        // Values recorded when the layout was fixed (2026-11-27).
        let mut rng = stream(42, 3, 5, Purpose::Folds);
        assert_eq!(rng.next_u64(), 13_273_392_979_421_550_177);
        assert_eq!(derive_seed(42, &[3, 5]), 1_676_300_190_369_768_130);
    }
}
