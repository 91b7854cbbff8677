//! One async mutex per key (an asset-day, a day), created on demand and
//! dropped when unused: concurrent first requests for one key compute once.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

/// One async mutex per key, created on demand and dropped when unused.
#[derive(Debug)]
pub(super) struct KeyedLocks<K> {
    locks: Arc<Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>>,
}

impl<K> Clone for KeyedLocks<K> {
    fn clone(&self) -> Self {
        KeyedLocks {
            locks: Arc::clone(&self.locks),
        }
    }
}

impl<K> Default for KeyedLocks<K> {
    fn default() -> Self {
        KeyedLocks {
            locks: Arc::default(),
        }
    }
}

/// Holds a key's lock; removes the key's entry when nobody else wants it.
pub(super) struct KeyGuard<K: Eq + Hash + Clone> {
    key: K,
    owner: KeyedLocks<K>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl<K: Eq + Hash + Clone> KeyedLocks<K> {
    pub(super) async fn lock(&self, key: K) -> KeyGuard<K> {
        let lock = {
            let mut map = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(map.entry(key.clone()).or_default())
        };
        let guard = lock.lock_owned().await;
        KeyGuard {
            key,
            owner: self.clone(),
            guard: Some(guard),
        }
    }
}

impl<K: Eq + Hash + Clone> Drop for KeyGuard<K> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self
            .owner
            .locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Only the map itself still refers to it: nobody holds or awaits it.
        if map
            .get(&self.key)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keyed_locks_serialise_one_key_and_forget_it_afterwards() {
        let locks: KeyedLocks<u8> = KeyedLocks::default();
        let first = locks.lock(1).await;
        let other_key =
            tokio::time::timeout(std::time::Duration::from_millis(50), locks.lock(2)).await;
        assert!(other_key.is_ok(), "another key must not wait");
        drop(other_key);
        let same_key =
            tokio::time::timeout(std::time::Duration::from_millis(50), locks.lock(1)).await;
        assert!(same_key.is_err(), "the same key must wait");
        drop(first);
        assert!(locks.locks.lock().unwrap().is_empty());
    }
}
