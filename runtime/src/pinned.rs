//! [`pin`]: strings kept for the life of the process in one arena, so an open label knows them by position.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};

/// The arena's size. Route templates of even a large service take a few KiB; a text that no longer fits
/// is still pinned (kept for good, outside the arena), it just has no position.
const ARENA_BYTES: usize = 1 << 16;

/// Where the arena starts, 0 until the first text is pinned.
static BASE: AtomicUsize = AtomicUsize::new(0);

/// The arena's unused end, and every pinned text by content so each is kept once.
struct Pins {
    free: &'static mut [u8],
    texts: HashSet<&'static str>,
}

static PINS: Mutex<Option<Pins>> = Mutex::new(None);

/// `text`, kept for the life of the process, and the same `&'static str` for the same text every time: an
/// open label value passed this way is found with one load instead of a comparison of its text.
///
/// The HTTP layer pins each route template once and passes the pinned text on every request. Each
/// pinned text's bytes sit at a fixed place in an arena that is never freed or written again, so its
/// position (offset and length) names the text for good, and [`OpenLabel::intern`](crate::OpenLabel::intern)
/// maps positions to ids without reading the text. Pin only bounded sets of values that come from code
/// (route templates, operation names): a pinned text is never freed, so request data must never be pinned.
pub fn pin(text: &str) -> &'static str {
    let mut pins = PINS.lock().unwrap_or_else(PoisonError::into_inner);
    let pins = pins.get_or_insert_with(|| {
        let free: &'static mut [u8] = Box::leak(vec![0; ARENA_BYTES].into_boxed_slice());
        BASE.store(free.as_ptr() as usize, Relaxed);
        Pins {
            free,
            texts: HashSet::new(),
        }
    });
    if let Some(known) = pins.texts.get(text) {
        return known;
    }
    let kept: &'static str = if text.len() <= pins.free.len() && text.len() < ARENA_BYTES {
        let (place, rest) = std::mem::take(&mut pins.free).split_at_mut(text.len());
        pins.free = rest;
        place.copy_from_slice(text.as_bytes());
        std::str::from_utf8(place).expect("a copy of a str is UTF-8")
    } else {
        Box::leak(text.into())
    };
    pins.texts.insert(kept);
    kept
}

/// The position of `text` in the arena, `offset << 16 | length`, when it lies there: then the same
/// position always holds the same text.
#[inline]
pub(crate) fn position(text: &str) -> Option<u64> {
    let base = BASE.load(Relaxed);
    let offset = (text.as_ptr() as usize).wrapping_sub(base);
    // A `str` that starts in the arena was taken from a pinned text, so offset and length are both below
    // 2^16 (no pinned text fills the whole arena).
    (base != 0 && offset < ARENA_BYTES && text.len() < ARENA_BYTES)
        .then_some(((offset as u64) << 16) | text.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_texts_are_kept_once_and_found_by_position() {
        let first = pin("/users/{id}");
        let again = pin(&String::from("/users/{id}"));
        assert!(std::ptr::eq(first, again), "one copy per text");
        let other = pin("/orders/{id}");
        let (one, two) = (
            position(first).expect("in the arena"),
            position(other).expect("in the arena"),
        );
        assert_ne!(one, two);
        assert_eq!(one & 0xffff, 11, "the low bits are the length");
        assert_eq!(position(&first[..6]).map(|key| key & 0xffff), Some(6));
        assert_eq!(
            position("/users/{id}"),
            None,
            "a copy elsewhere has no position"
        );
    }
}
