//! A hash map whose clone is O(1) and whose writes stay cheap while a clone is
//! held: a hash trie, eight children per branch, whose leaves are hash maps of
//! at most `LEAF_MAX` entries, every node behind an `Arc`.
//!
//! A write goes through `Arc::make_mut` down the key's path, so it copies only
//! the nodes a clone (a snapshot) still shares: a few small branches and one
//! small leaf. The Scheduler replaces its snapshot after every step, so that
//! path copy is what nearly every write pays. The map used to be 256 fixed
//! shards: at 200,000 tasks each held 780 entries, and an update under a
//! snapshot copied (and later freed) a whole shard, 12x the cost of the update
//! without one from Python (`bench/reducer.py`); with this trie it is 2x. The
//! price is depth (about six nodes at 200,000 entries instead of two), which a
//! batch of updates without any snapshot pays: about 1.5x the flat shards.
//! Leaves split as they fill, so their size stays bounded whatever the map
//! holds. A general persistent map (a HAMT, e.g. imbl) was measured too: its
//! `get_mut` took five times a plain map's at 100,000 tasks; here an unshared
//! path is written in place.

use std::borrow::Borrow;
use std::collections::{hash_map, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault, Hash};
use std::sync::Arc;

use rustc_hash::FxHasher;

/// Bits of the hash consumed per branch level: 8 children.
const BITS: u32 = 3;
const FANOUT: usize = 1 << BITS;
/// The trie indexes the hash from this bit up: hashbrown uses the low bits for
/// the bucket and the top seven as a tag, so neither should pick the path.
const FIRST_BIT: u32 = 16;
/// Branch levels at most, so that the path stays below the tag bits; a leaf
/// at this depth grows without splitting (only equal-hash keys get there).
const MAX_DEPTH: u32 = (57 - FIRST_BIT) / BITS;
/// A leaf splits into a branch when it holds more than this.
const LEAF_MAX: usize = 32;

type Hasher = BuildHasherDefault<FxHasher>;
type Leaf<K, V> = HashMap<K, V, Hasher>;
/// A branch's slot: empty until a key's path goes through it.
type Child<K, V> = Option<Arc<Node<K, V>>>;

#[derive(Clone, Debug)]
enum Node<K, V> {
    Branch([Child<K, V>; FANOUT]),
    Leaf(Leaf<K, V>),
}

#[derive(Clone, Debug)]
pub struct CowMap<K, V> {
    root: Arc<Node<K, V>>,
    len: usize,
}

impl<K, V> Default for CowMap<K, V> {
    fn default() -> Self {
        CowMap {
            root: Arc::new(Node::Leaf(HashMap::default())),
            len: 0,
        }
    }
}

fn hash_of<Q: Hash + ?Sized>(key: &Q) -> u64 {
    Hasher::default().hash_one(key)
}

/// The child of a branch at `depth` that a key with `hash` goes to.
fn slot(hash: u64, depth: u32) -> usize {
    (hash >> (FIRST_BIT + depth * BITS)) as usize % FANOUT
}

impl<K: Hash + Eq + Clone, V: Clone> CowMap<K, V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The leaf a key with `hash` belongs in, if it exists, and whether
    /// every node on the way to it is unshared.
    fn leaf(&self, hash: u64) -> (Option<&Leaf<K, V>>, bool) {
        // No weak pointers are ever made, so a strong count of one means
        // `make_mut` will not copy.
        let mut unshared = Arc::strong_count(&self.root) == 1;
        let mut node = &*self.root;
        let mut depth = 0;
        loop {
            match node {
                Node::Leaf(leaf) => return (Some(leaf), unshared),
                Node::Branch(children) => match &children[slot(hash, depth)] {
                    None => return (None, unshared),
                    Some(child) => {
                        unshared &= Arc::strong_count(child) == 1;
                        node = child;
                        depth += 1;
                    }
                },
            }
        }
    }

    /// The leaf a key with `hash` belongs in, made unshared (copying the
    /// nodes on its path that a clone shares) and created if missing, with
    /// its depth.
    fn leaf_mut(&mut self, hash: u64) -> (&mut Leaf<K, V>, u32) {
        let mut node = Arc::make_mut(&mut self.root);
        let mut depth = 0;
        loop {
            match node {
                Node::Leaf(leaf) => return (leaf, depth),
                Node::Branch(children) => {
                    let child = children[slot(hash, depth)]
                        .get_or_insert_with(|| Arc::new(Node::Leaf(HashMap::default())));
                    node = Arc::make_mut(child);
                    depth += 1;
                }
            }
        }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.leaf(hash_of(key)).0?.get(key)
    }

    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.leaf(hash_of(key)).0?.get_key_value(key)
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }

    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = hash_of(key);
        // Unshared, the path is written in place with one probe; shared, look
        // first, so that a miss never copies.
        match self.leaf(hash) {
            (None, _) => return None,
            (Some(leaf), false) if !leaf.contains_key(key) => return None,
            _ => {}
        }
        self.leaf_mut(hash).0.get_mut(key)
    }

    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let hash = hash_of(&key);
        let (leaf, depth) = self.leaf_mut(hash);
        let old = leaf.insert(key, value);
        let full = leaf.len() > LEAF_MAX && depth < MAX_DEPTH;
        if old.is_none() {
            self.len += 1;
        }
        if full {
            self.split(hash);
        }
        old
    }

    /// Turn the (unshared, just written) leaf on `hash`'s path into a branch.
    fn split(&mut self, hash: u64) {
        let mut node = Arc::make_mut(&mut self.root);
        let mut depth = 0;
        while let Node::Branch(children) = node {
            let child = children[slot(hash, depth)]
                .as_mut()
                .expect("the path was just written");
            node = Arc::make_mut(child);
            depth += 1;
        }
        let Node::Leaf(leaf) = node else {
            unreachable!("the loop ends on a leaf")
        };
        let mut children: [Child<K, V>; FANOUT] = Default::default();
        for (key, value) in leaf.drain() {
            let child = children[slot(hash_of(&key), depth)]
                .get_or_insert_with(|| Arc::new(Node::Leaf(HashMap::default())));
            let Some(Node::Leaf(leaf)) = Arc::get_mut(child) else {
                unreachable!("new children are unshared leaves")
            };
            leaf.insert(key, value);
        }
        *node = Node::Branch(children);
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = hash_of(key);
        if !self.leaf(hash).0?.contains_key(key) {
            return None;
        }
        // Leaves are not merged back: a map that shrank keeps its branches.
        let old = self.leaf_mut(hash).0.remove(key);
        self.len -= usize::from(old.is_some());
        old
    }

    /// Entries in no particular order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            branches: Vec::new(),
            leaf: match &*self.root {
                Node::Leaf(leaf) => leaf.iter(),
                Node::Branch(children) => {
                    return Iter {
                        branches: vec![children.iter()],
                        leaf: hash_map::Iter::default(),
                    }
                }
            },
        }
    }
}

/// The entries of a [`CowMap`], depth first.
pub struct Iter<'a, K, V> {
    /// The children still to visit of each branch above the current leaf.
    branches: Vec<std::slice::Iter<'a, Child<K, V>>>,
    leaf: hash_map::Iter<'a, K, V>,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.leaf.next() {
                return Some(entry);
            }
            let branch = self.branches.last_mut()?;
            match branch.next() {
                None => {
                    self.branches.pop();
                }
                Some(None) => {}
                Some(Some(child)) => match &**child {
                    Node::Leaf(leaf) => self.leaf = leaf.iter(),
                    Node::Branch(children) => self.branches.push(children.iter()),
                },
            }
        }
    }
}

impl<K: Eq + Hash + Clone, V: PartialEq + Clone> PartialEq for CowMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        // Two maps with the same entries may be split differently (leaves
        // split as they fill and never merge), so compare entries.
        Arc::ptr_eq(&self.root, &other.root)
            || (self.len == other.len && self.iter().all(|(k, v)| other.get(k) == Some(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Map = CowMap<String, u64>;

    /// Nodes of `a` that `b` does not share, and the largest of their leaves.
    fn unshared(a: &Arc<Node<String, u64>>, b: Option<&Arc<Node<String, u64>>>) -> (usize, usize) {
        if b.is_some_and(|b| Arc::ptr_eq(a, b)) {
            return (0, 0);
        }
        match (&**a, b.map(|b| &**b)) {
            (Node::Leaf(leaf), _) => (1, leaf.len()),
            (Node::Branch(mine), theirs) => {
                let mut total = (1, 0);
                for (i, child) in mine.iter().enumerate() {
                    let Some(child) = child else { continue };
                    let other = match theirs {
                        Some(Node::Branch(theirs)) => theirs[i].as_ref(),
                        _ => None,
                    };
                    let (nodes, leaf) = unshared(child, other);
                    total = (total.0 + nodes, total.1.max(leaf));
                }
                total
            }
        }
    }

    fn filled(n: u64) -> Map {
        let mut map = Map::default();
        for i in 0..n {
            map.insert(format!("task-{i}"), i);
        }
        map
    }

    #[test]
    fn a_clone_does_not_see_later_writes() {
        let mut map = filled(1000);
        let snapshot = map.clone();
        *map.get_mut("task-7").unwrap() = 70;
        map.insert("new".into(), 1);
        map.remove("task-8");
        assert_eq!(snapshot.get("task-7"), Some(&7));
        assert_eq!(snapshot.get("task-8"), Some(&8));
        assert!(!snapshot.contains_key("new"));
        assert_eq!((snapshot.len(), map.len()), (1000, 1000));
        assert_eq!(map.get("task-7"), Some(&70));
        assert_eq!(map.iter().count(), 1000);
        assert_eq!(snapshot.iter().count(), 1000);
    }

    #[test]
    fn a_write_under_a_snapshot_copies_one_small_path() {
        let mut map = filled(200_000);
        let snapshot = map.clone();
        *map.get_mut("task-12345").unwrap() = 0;
        let (nodes, leaf) = unshared(&map.root, Some(&snapshot.root));
        assert!(nodes <= MAX_DEPTH as usize + 1, "{nodes} nodes copied");
        assert!((1..=LEAF_MAX).contains(&leaf), "a leaf of {leaf} copied");
        assert!(nodes >= 2, "the write went in place under a snapshot");
    }

    #[test]
    fn unshared_paths_are_written_in_place() {
        let mut map = filled(10_000);
        let before = map.clone();
        *map.get_mut("task-1").unwrap() = 0;
        drop(before);
        let root = Arc::as_ptr(&map.root);
        let fresh = map.clone();
        drop(fresh);
        *map.get_mut("task-2").unwrap() = 0;
        map.insert("task-3".into(), 0);
        map.remove("task-4");
        assert_eq!(Arc::as_ptr(&map.root), root);
        let snapshot = map.clone();
        *map.get_mut("task-5").unwrap() = 0;
        let copied = unshared(&map.root, Some(&snapshot.root)).0;
        drop(snapshot);
        let path = Arc::as_ptr(&map.root);
        *map.get_mut("task-5").unwrap() = 1;
        assert!(copied > 0);
        assert_eq!(Arc::as_ptr(&map.root), path);
    }

    #[test]
    fn leaves_split_as_they_fill() {
        let map = filled(100_000);
        let (nodes, largest) = unshared(&map.root, None);
        assert!(largest <= LEAF_MAX, "a leaf of {largest}");
        // Leaves hold a few entries on average, not one each.
        assert!(nodes < 100_000 / 4, "{nodes} nodes");
    }

    #[test]
    fn missing_keys_change_nothing() {
        let mut map = filled(1000);
        let snapshot = map.clone();
        assert!(map.get_mut("x").is_none());
        assert!(map.remove("x").is_none());
        assert!(Arc::ptr_eq(&map.root, &snapshot.root));
        assert_eq!(map.len(), 1000);
    }

    #[test]
    fn equal_entries_make_equal_maps_however_they_split() {
        let mut shrunk = filled(1000);
        for i in 10..1000 {
            shrunk.remove(format!("task-{i}").as_str());
        }
        let small = filled(10);
        assert_eq!(shrunk, small);
        *shrunk.get_mut("task-3").unwrap() = 30;
        assert_ne!(shrunk, small);
        assert_ne!(filled(11), small);
    }

    /// Random inserts, writes and removes against a `HashMap`, with snapshots
    /// taken along the way that must keep what they saw.
    #[test]
    fn behaves_as_a_hash_map_with_snapshots_held() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut map = Map::default();
        let mut model: std::collections::HashMap<String, u64> = Default::default();
        let mut snapshots: Vec<(Map, std::collections::HashMap<String, u64>)> = Vec::new();
        for step in 0..60_000u64 {
            let key = format!("k{}", next() % 5_000);
            match next() % 4 {
                0 | 1 => assert_eq!(map.insert(key.clone(), step), model.insert(key, step)),
                2 => assert_eq!(map.get_mut(key.as_str()).map(|v| *v += 1), {
                    model.get_mut(&key).map(|v| *v += 1)
                }),
                _ => assert_eq!(map.remove(key.as_str()), model.remove(&key)),
            }
            if step % 5_000 == 0 {
                snapshots.push((map.clone(), model.clone()));
            }
        }
        snapshots.push((map, model));
        for (map, model) in snapshots {
            assert_eq!(map.len(), model.len());
            assert_eq!(map.iter().count(), model.len());
            for (k, v) in map.iter() {
                assert_eq!(model.get(k), Some(v));
            }
            for (k, v) in &model {
                assert_eq!(map.get(k.as_str()), Some(v));
                assert_eq!(map.get_key_value(k.as_str()), Some((k, v)));
            }
        }
    }
}
