//! Reading many objects on all cores while adding them in file order: the objects of a
//! batch are parsed, projected, normalised and serialised on several threads (the costly
//! part), then added to the inventory one by one in the order of the file, so the result,
//! the errors and which error comes first are those of a one-thread read.
//!
//! Layer: inventory (a part of `snapshot`).

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::limits::PARSER_STACK_BYTES;

/// Input bytes handed to the threads at once: large enough that starting threads costs
/// nothing next to the work, small enough that what a batch holds ready (its objects,
/// projected and serialised, before they are added) is a few MiB.
pub(in crate::inventory) const BATCH_BYTES: usize = 4 << 20;

/// Threads a batch is spread over, this one included: the cores, at most 8.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).min(8)
}

/// `f` of every element of `items`, in order, computed on up to [`workers`] threads (this
/// one included). Helper threads get the YAML parser's stack ([`PARSER_STACK_BYTES`]): `f`
/// may parse YAML. If a helper cannot be started, this thread does its share; a panic in
/// `f` is resumed here.
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: &(dyn Fn(&T) -> R + Sync)) -> Vec<R> {
    let n = workers().min(items.len());
    if n <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let run = || {
        let mut out = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            out.push((i, f(item)));
        }
        out
    };
    let mut all = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..n)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .name("worker".to_string())
                    .stack_size(PARSER_STACK_BYTES)
                    .spawn_scoped(scope, run)
                    .ok()
            })
            .collect();
        let mut all = run();
        for h in helpers {
            match h.join() {
                Ok(part) => all.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    });
    all.sort_unstable_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

/// Splits `items` into runs of about [`BATCH_BYTES`] (by `len`), each at least one item.
pub(in crate::inventory) fn batches<T>(items: &[T], len: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0usize, 0usize);
    for (i, item) in items.iter().enumerate() {
        bytes += len(item);
        if bytes >= BATCH_BYTES {
            out.push(&items[start..=i]);
            start = i + 1;
            bytes = 0;
        }
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_map_keeps_order_and_batches_cover_everything() {
        let items: Vec<usize> = (0..10_000).collect();
        assert_eq!(par_map(&items, &|i| i * 2), items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(par_map(&[] as &[usize], &|i| *i).is_empty());
        let big = vec![BATCH_BYTES / 3 + 1; 10];
        let b = batches(&big, |n| *n);
        assert_eq!(b.iter().map(|s| s.len()).collect::<Vec<_>>(), [3, 3, 3, 1]);
        assert_eq!(batches(&[BATCH_BYTES * 2], |n| *n).len(), 1);
    }
}
