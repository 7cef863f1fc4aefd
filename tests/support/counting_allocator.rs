//! A global allocator that counts this thread's heap allocations and the bytes
//! they hold, for the test binaries that assert allocation counts or sizes
//! (include it with `#[path]`; it installs itself as the binary's
//! `#[global_allocator]`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// Allocations made by this thread. Per thread, so tests running in
    /// parallel do not count each other's allocations.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    /// Bytes allocated minus bytes freed by this thread (wrapping: a thread
    /// may free what another allocated).
    static LIVE_BYTES: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

fn count() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

fn grow(bytes: usize) {
    let _ = LIVE_BYTES.try_with(|n| n.set(n.get().wrapping_add(bytes)));
}

fn shrink(bytes: usize) {
    let _ = LIVE_BYTES.try_with(|n| n.set(n.get().wrapping_sub(bytes)));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is a const-initialized thread-local `Cell` that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        grow(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        grow(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        shrink(layout.size());
        grow(new_size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrink(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the allocations it made on this thread.
pub fn allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (out, ALLOCATIONS.with(Cell::get) - before)
}

/// Bytes this thread has allocated and not freed since an arbitrary origin:
/// the difference of two readings is what was allocated in between and is
/// still held (if nothing allocated on another thread was freed here).
#[allow(dead_code)] // not every binary that includes this file measures bytes
pub fn live_bytes() -> usize {
    LIVE_BYTES.with(Cell::get)
}
