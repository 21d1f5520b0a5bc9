//! `--shard i/n`: a deterministic split of a job across machines.

use std::{fmt, str::FromStr};

/// Shard `index` of `count` (0-based). A record belongs to exactly one shard, decided by a
/// stable hash of its id, so the split does not depend on input order or on the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The whole job as one shard.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether the record with this id belongs to this shard.
    pub fn contains(&self, id: &str) -> bool {
        Shard::index_of(id, self.count) == self.index
    }

    /// The index of the shard of `count` the record with this id belongs to.
    pub fn index_of(id: &str, count: u32) -> u32 {
        if count <= 1 {
            return 0;
        }
        (crate::stable_hash(id) % u64::from(count)) as u32
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid shard {0:?}: expected i/n with 0 <= i < n, e.g. 0/4")]
pub struct ShardParseError(String);

impl FromStr for Shard {
    type Err = ShardParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ShardParseError(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(err)?;
        let index: u32 = i.trim().parse().map_err(|_| err())?;
        let count: u32 = n.trim().parse().map_err(|_| err())?;
        if count == 0 || index >= count {
            return Err(err());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        assert_eq!(
            "1/4".parse::<Shard>().unwrap(),
            Shard { index: 1, count: 4 }
        );
        assert_eq!(Shard { index: 1, count: 4 }.to_string(), "1/4");
        for bad in ["4/4", "1", "a/2", "0/0", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_id_in_exactly_one_shard() {
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        let mut sizes = [0; 3];
        for i in 0..3000 {
            let id = format!("page{i}#0");
            let owners: Vec<usize> = (0..3).filter(|&s| shards[s].contains(&id)).collect();
            assert_eq!(owners.len(), 1);
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|&n| n > 800), "unbalanced: {sizes:?}");
    }
}
