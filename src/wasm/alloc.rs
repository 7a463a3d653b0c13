//! The global allocator of the npm package (feature "small-alloc"): power-of-two size classes
//! with one free list each, carved from `memory.grow`. About 0.5 KB of code where dlmalloc
//! (std's default) is about 7 KB.
//!
//! A block of class `k` holds `2^k` bytes (at least 8) and goes back to the free list of its class
//! when freed; blocks are never split, merged or returned to the browser (wasm memory cannot
//! shrink anyway). Memory is thus bounded by the peak use of each class: fine for a client whose
//! allocations are packets, messages and small bookkeeping. wasm32-unknown-unknown without the
//! atomics feature has one thread, so the state needs no lock.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::null_mut;

const PAGE: usize = 65536;
/// Classes 3 (8 bytes) ..= 31 (2 GiB).
const CLASSES: usize = 32;

struct State {
    free: [*mut u8; CLASSES],
    next: usize,
    end: usize,
}

pub(crate) struct Alloc(UnsafeCell<State>);

// SAFETY: wasm32-unknown-unknown (without the atomics target feature) runs one thread.
unsafe impl Sync for Alloc {}

#[global_allocator]
static ALLOC: Alloc = Alloc(UnsafeCell::new(State { free: [null_mut(); CLASSES], next: 0, end: 0 }));

/// The class of a request: the smallest power of two that holds `size` and `align`, at least 8.
fn class(layout: &Layout) -> usize {
    let n = layout.size().max(layout.align()).max(8);
    (usize::BITS - (n - 1).leading_zeros()) as usize
}

impl State {
    /// `2^k` fresh bytes aligned to `align`, from the end of memory (growing it when needed).
    fn carve(&mut self, k: usize, align: usize) -> *mut u8 {
        let size = 1usize << k;
        let mut start = (self.next + align - 1) & !(align - 1);
        if start.checked_add(size).map_or(true, |e| e > self.end) {
            let pages = (size + align).div_ceil(PAGE);
            // 65536 pages (4 GiB) would not have an end address in a usize: stop one short.
            let old = core::arch::wasm32::memory_size(0);
            if old + pages >= 65536 || core::arch::wasm32::memory_grow(0, pages) != old {
                return null_mut();
            }
            if old * PAGE != self.end {
                // Someone else grew memory meanwhile (nobody does): start afresh at the new pages.
                self.next = old * PAGE;
            }
            self.end = (old + pages) * PAGE;
            start = (self.next + align - 1) & !(align - 1);
        }
        self.next = start + size;
        start as *mut u8
    }
}

unsafe impl GlobalAlloc for Alloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let k = class(&layout);
        if k >= CLASSES {
            return null_mut();
        }
        // SAFETY: one thread, and no allocator call is re-entrant.
        let s = unsafe { &mut *self.0.get() };
        let head = s.free[k];
        // A freed block is aligned to at least 8; larger alignments (never asked for here) are
        // carved afresh.
        if !head.is_null() && (head as usize) & (layout.align() - 1) == 0 {
            // SAFETY: a free block's first word holds the next free block of its class.
            s.free[k] = unsafe { *(head as *mut *mut u8) };
            return head;
        }
        s.carve(k, layout.align().max(8))
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let k = class(&layout);
        // SAFETY: one thread; `ptr` came from `alloc` with this layout, so it holds 2^k >= 8
        // bytes aligned to 8, room for the link.
        let s = unsafe { &mut *self.0.get() };
        unsafe { *(ptr as *mut *mut u8) = s.free[k] };
        s.free[k] = ptr;
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY (layout): the caller guarantees new_size, rounded to align, does not overflow.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if class(&new) == class(&layout) {
            return ptr;
        }
        // SAFETY: as GlobalAlloc::realloc's default.
        unsafe {
            let p = self.alloc(new);
            if !p.is_null() {
                core::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            p
        }
    }
}
