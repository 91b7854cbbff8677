//! One async mutex per key (an asset-day, a day), created on demand and
//! dropped when unused: concurrent first requests for one key compute once.
//! And at most one background task per key (a refresh of an area's day or
//! forecast): requests that find it due start it once between them.

use std::collections::{HashMap, HashSet};
use std::future::Future;
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

/// At most one background task per key: starting one while another for
/// the key runs does nothing.
#[derive(Debug)]
pub(super) struct BackgroundTasks<K> {
    running: Arc<Mutex<HashSet<K>>>,
}

impl<K> Clone for BackgroundTasks<K> {
    fn clone(&self) -> Self {
        BackgroundTasks {
            running: Arc::clone(&self.running),
        }
    }
}

impl<K> Default for BackgroundTasks<K> {
    fn default() -> Self {
        BackgroundTasks {
            running: Arc::default(),
        }
    }
}

impl<K: Eq + Hash + Clone + Send + 'static> BackgroundTasks<K> {
    /// Spawns `task` for `key` unless one is running; the key is free again
    /// when the task ends, however it ends.
    pub(super) fn start(&self, key: K, task: impl Future<Output = ()> + Send + 'static) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if !running.insert(key.clone()) {
            return;
        }
        drop(running);
        let release = Release {
            key,
            running: Arc::clone(&self.running),
        };
        tokio::spawn(async move {
            let _release = release;
            task.await;
        });
    }

    /// How many are running.
    pub(super) fn len(&self) -> usize {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Frees a key of [`BackgroundTasks`] when its task is done or dropped.
struct Release<K: Eq + Hash> {
    key: K,
    running: Arc<Mutex<HashSet<K>>>,
}

impl<K: Eq + Hash> Drop for Release<K> {
    fn drop(&mut self) {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
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

    #[tokio::test]
    async fn one_background_task_runs_per_key_and_frees_it_when_done() {
        let tasks: BackgroundTasks<u8> = BackgroundTasks::default();
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        tasks.start(1, async move {
            let _ = wait.await;
        });
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let second = Arc::clone(&ran);
        tasks.start(1, async move {
            second.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        assert_eq!(tasks.len(), 1);
        go.send(()).unwrap();
        for _ in 0..100 {
            if tasks.len() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(tasks.len(), 0);
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }
}
