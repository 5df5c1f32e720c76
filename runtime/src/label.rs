//! Labels: closed enums, open interned strings, and the [`Slot`] cursor that turns a label set into an index.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

/// The value an open label takes once it has `max_values` distinct values, so the series count stays bounded.
pub const OVERFLOW_VALUE: &str = "other";

/// Entries in each open label's cache of the addresses values were passed from (a power of two).
const ADDRESS_SLOTS: usize = 128;

/// Entries in each open label's cache of [pinned](crate::pin) texts by position (a power of two).
const POSITION_SLOTS: usize = 64;

/// The cache entry for a pinned text at `position`.
#[inline]
fn position_slot(position: u64) -> usize {
    ((position >> 19) ^ position) as usize & (POSITION_SLOTS - 1)
}

/// The cache entry for a value passed from `address`: the same string passed again lands on the same entry.
#[inline]
fn address_slot(address: usize) -> usize {
    ((address >> 3) ^ (address >> 10)) & (ADDRESS_SLOTS - 1)
}

/// Whether two strings are equal, compared eight bytes at a time without a call: route templates and
/// similar values are short, and this is the whole cost of a cache hit besides two loads.
#[inline]
fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    if a.len() < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let word = |bytes: &[u8]| u64::from_ne_bytes(bytes.try_into().expect("eight bytes"));
    // Whole words from the start, then the last eight bytes (overlapping the words before them when the
    // length is not a multiple of eight).
    let last = a.len() - 8;
    a.chunks_exact(8)
        .zip(b.chunks_exact(8))
        .all(|(x, y)| word(x) == word(y))
        && word(&a[last..]) == word(&b[last..])
}

/// A closed label: an enum whose variants are all the values the label can take.
///
/// Implemented by the generated enums, so a misspelt value is a compile error and the slot index is plain
/// arithmetic on the variant's position.
pub trait LabelValue: Copy {
    /// The exposed value of each variant, in variant order.
    const VALUES: &'static [&'static str];

    /// The variant's position in [`VALUES`](Self::VALUES).
    fn index(self) -> usize;
}

/// The labels of one family, implemented by the generated `...Labels` structs.
///
/// The implementing type is the `'static` form; [`Borrowed`](Self::Borrowed) is what callers pass, so an
/// open label can borrow the request's route instead of allocating a `String` per recording.
pub trait LabelSet {
    /// The label struct as callers build it, borrowing open label values.
    type Borrowed<'a>;

    /// Label names in dimension order; exposition writes labels in this order.
    const NAMES: &'static [&'static str];

    /// Feeds each label to `slot`, in [`NAMES`](Self::NAMES) order, one `closed` or `open` call per label.
    fn slot(labels: &Self::Borrowed<'_>, slot: &mut Slot<'_>);
}

/// The label set of a metric without labels; its family has a single slot and derefs to the metric.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NoLabels;

impl LabelSet for NoLabels {
    type Borrowed<'a> = NoLabels;
    const NAMES: &'static [&'static str] = &[];

    fn slot(_: &NoLabels, _: &mut Slot<'_>) {}
}

/// An open label (e.g. `route`): any string, up to a fixed number of distinct values.
///
/// Cloning is cheap and clones share one interner, so every family using the label agrees on value ids and
/// on the limit, and the dropped count is reported once per label.
#[derive(Clone)]
pub struct OpenLabel(Arc<OpenInner>);

struct OpenInner {
    name: &'static str,
    max_values: usize,
    interner: RwLock<Interner>,
    /// Each interned value by id, readable without the lock; set once, before the id is handed out.
    published: Box<[OnceLock<Arc<str>>]>,
    /// For each [`address_slot`], 1 + the id of the value last interned from a string at such an address
    /// (0: none). Only a hint: a hit is checked against [`published`](Self::published) by text, so a
    /// string at a reused address, or two strings sharing an entry, can cost a lookup but never a wrong id.
    by_address: Box<[AtomicU32; ADDRESS_SLOTS]>,
    /// For each [`position_slot`], a pinned text's position (high 32 bits) and 1 + its id (low 32 bits), 0
    /// for none. A position always holds the same text, so a matching entry needs no check: one load.
    by_position: [AtomicU64; POSITION_SLOTS],
    dropped: AtomicU64,
}

#[derive(Default)]
struct Interner {
    ids: HashMap<Arc<str>, usize>,
    values: Vec<Arc<str>>,
    /// Each value escaped for exposition, by id: escaping once here keeps it out of every scrape. Shares the
    /// value's allocation when nothing needed escaping.
    escaped: Vec<Arc<str>>,
}

impl OpenLabel {
    /// Creates the label `name`, admitting at most `max_values` distinct values besides [`OVERFLOW_VALUE`].
    pub fn new(name: &'static str, max_values: usize) -> Self {
        OpenLabel(Arc::new(OpenInner {
            name,
            max_values,
            interner: RwLock::new(Interner::default()),
            published: (0..max_values).map(|_| OnceLock::new()).collect(),
            by_address: Box::new([const { AtomicU32::new(0) }; ADDRESS_SLOTS]),
            by_position: [const { AtomicU64::new(0) }; POSITION_SLOTS],
            dropped: AtomicU64::new(0),
        }))
    }

    /// The label name, as exposed in `slogen_label_values_dropped_total{label="..."}`.
    pub fn name(&self) -> &'static str {
        self.0.name
    }

    /// How many distinct values the label admits before folding new ones into [`OVERFLOW_VALUE`].
    pub fn max_values(&self) -> usize {
        self.0.max_values
    }

    /// How many recordings had their value replaced by [`OVERFLOW_VALUE`] because the label was full.
    ///
    /// This counts recordings, not distinct values: remembering every rejected value would be the unbounded
    /// memory the limit exists to prevent.
    pub fn dropped(&self) -> u64 {
        self.0.dropped.load(Relaxed)
    }

    /// The id of `value`: stable for the life of the process, in `0..=max_values`, where `max_values` is the
    /// id of [`OVERFLOW_VALUE`].
    ///
    /// A [pinned](crate::pin) text (the HTTP layer pins each route template once) is found by its
    /// position with one load, close to a closed label's cost. A value passed again from a string at the
    /// same address is found in the label's address cache: two loads and a comparison of the text. Neither
    /// locks or hashes the text. Otherwise known values and a full label take the read lock; the write lock
    /// is taken once per new value.
    #[inline]
    pub fn intern(&self, value: &str) -> usize {
        match self.cached(value) {
            Some(id) => id,
            None => self.intern_uncached(value),
        }
    }

    /// The id a cache holds for `value`, if it holds the right one: a few loads, no lock, no call.
    #[inline]
    fn cached(&self, value: &str) -> Option<usize> {
        let inner = &*self.0;
        if let Some(position) = crate::pinned::position(value) {
            let entry = inner.by_position[position_slot(position)].load(Relaxed);
            let id = (entry as u32 as usize).wrapping_sub(1);
            return (entry >> 32 == position && id < inner.max_values).then_some(id);
        }
        let hint = inner.by_address[address_slot(value.as_ptr() as usize)].load(Relaxed);
        let id = (hint as usize).checked_sub(1)?;
        let known = inner.published.get(id)?.get()?;
        same_text(known, value).then_some(id)
    }

    /// [`intern`](Self::intern) past the caches, out of line so the cached paths stay small; the result is
    /// remembered in the cache `value` is looked up in.
    #[cold]
    #[inline(never)]
    fn intern_uncached(&self, value: &str) -> usize {
        let inner = &*self.0;
        if value == OVERFLOW_VALUE {
            return inner.max_values;
        }
        // Only ids of real values are cached: a full label's `other` must count every recording as dropped.
        let remember = |id: usize| match crate::pinned::position(value) {
            Some(position) => {
                let entry = position << 32 | (id as u64 + 1);
                if u32::try_from(id + 1).is_ok() {
                    inner.by_position[position_slot(position)].store(entry, Relaxed);
                }
            }
            None => {
                if let Ok(hint) = u32::try_from(id + 1) {
                    inner.by_address[address_slot(value.as_ptr() as usize)].store(hint, Relaxed);
                }
            }
        };
        {
            let interner = inner
                .interner
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(&id) = interner.ids.get(value) {
                remember(id);
                return id;
            }
            if interner.values.len() >= inner.max_values {
                inner.dropped.fetch_add(1, Relaxed);
                return inner.max_values;
            }
        }
        let mut interner = inner
            .interner
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(&id) = interner.ids.get(value) {
            return id;
        }
        if interner.values.len() >= inner.max_values {
            inner.dropped.fetch_add(1, Relaxed);
            return inner.max_values;
        }
        let id = interner.values.len();
        let value: Arc<str> = Arc::from(value);
        let escaped = match escape(&value) {
            Cow::Borrowed(_) => Arc::clone(&value),
            Cow::Owned(escaped) => Arc::from(escaped),
        };
        interner.escaped.push(escaped);
        interner.values.push(Arc::clone(&value));
        interner.ids.insert(Arc::clone(&value), id);
        // Published before the id can reach the cache, so a hint always finds its value.
        let _ = inner.published[id].set(value);
        remember(id);
        id
    }

    /// The value behind an id returned by [`intern`](Self::intern).
    pub(crate) fn value(&self, id: usize) -> LabelText {
        if id == self.0.max_values {
            return LabelText::Static(OVERFLOW_VALUE);
        }
        let interner = self
            .0
            .interner
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        LabelText::Shared(Arc::clone(&interner.values[id]))
    }

    /// Appends the escaped value behind an id returned by [`intern`](Self::intern) to `out`.
    pub(crate) fn write_escaped(&self, id: usize, out: &mut Vec<u8>) {
        if id == self.0.max_values {
            out.extend_from_slice(OVERFLOW_VALUE.as_bytes());
            return;
        }
        let interner = self
            .0
            .interner
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        out.extend_from_slice(interner.escaped[id].as_bytes());
    }

    /// Whether both handles share one interner (the same label, not merely the same name).
    pub(crate) fn same(&self, other: &OpenLabel) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for OpenLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenLabel")
            .field("name", &self.name())
            .field("max_values", &self.max_values())
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

/// `value` escaped as a label value in both exposition formats: `\\`, `\"` and `\n`; borrowed when
/// nothing needs escaping, which is the common case.
pub(crate) fn escape(value: &str) -> Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return Cow::Borrowed(value);
    }
    let mut escaped = String::with_capacity(value.len() + 2);
    for character in value.chars() {
        match character {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            other => escaped.push(other),
        }
    }
    Cow::Owned(escaped)
}

/// A label value ready for exposition.
#[derive(Debug)]
pub(crate) enum LabelText {
    Static(&'static str),
    Shared(Arc<str>),
}

impl LabelText {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            LabelText::Static(text) => text,
            LabelText::Shared(text) => text,
        }
    }
}

/// One label of a family as declared to [`Family::new`](crate::Family::new): it fixes the label's
/// cardinality, hence the family's slot count.
#[derive(Clone, Debug)]
pub struct Dimension(Kind);

#[derive(Clone, Debug)]
enum Kind {
    Closed(&'static [&'static str]),
    Open(OpenLabel),
}

impl Dimension {
    /// A closed label whose values are the variants of `V`.
    pub fn closed<V: LabelValue>() -> Self {
        Dimension(Kind::Closed(V::VALUES))
    }

    /// An open label; the family shares `label`'s interner and limit.
    pub fn open(label: &OpenLabel) -> Self {
        Dimension(Kind::Open(label.clone()))
    }

    /// Number of ids the label can take: its values, plus [`OVERFLOW_VALUE`] for an open label.
    pub fn cardinality(&self) -> usize {
        match &self.0 {
            Kind::Closed(values) => values.len(),
            Kind::Open(label) => label.max_values() + 1,
        }
    }

    /// The open label behind this dimension, if it is open.
    pub fn open_label(&self) -> Option<&OpenLabel> {
        match &self.0 {
            Kind::Closed(_) => None,
            Kind::Open(label) => Some(label),
        }
    }

    /// The exposed value of `id`.
    pub(crate) fn value(&self, id: usize) -> LabelText {
        match &self.0 {
            Kind::Closed(values) => LabelText::Static(values[id]),
            Kind::Open(label) => label.value(id),
        }
    }
}

/// The cursor [`LabelSet::slot`] feeds labels into; it accumulates the mixed-radix slot index.
#[derive(Debug)]
pub struct Slot<'a> {
    dimensions: &'a [Dimension],
    next: usize,
    index: usize,
}

impl<'a> Slot<'a> {
    pub(crate) fn new(dimensions: &'a [Dimension]) -> Self {
        Slot {
            dimensions,
            next: 0,
            index: 0,
        }
    }

    /// The slot index, once every label has been fed.
    pub(crate) fn finish(self) -> usize {
        debug_assert_eq!(
            self.next,
            self.dimensions.len(),
            "the label set fed fewer labels than the family has"
        );
        self.index
    }

    /// Feeds a closed label. The cardinality is a constant of `V`, so this compiles to a multiply-add.
    #[inline]
    pub fn closed<V: LabelValue>(&mut self, value: V) {
        debug_assert!(
            matches!(self.dimensions.get(self.next), Some(Dimension(Kind::Closed(values))) if *values == V::VALUES),
            "label {} of the label set does not match the family's dimension",
            self.next
        );
        debug_assert!(
            value.index() < V::VALUES.len(),
            "LabelValue::index out of range"
        );
        self.index = self.index * V::VALUES.len() + value.index();
        self.next += 1;
    }

    /// Feeds an open label, interning `value` (or mapping it to [`OVERFLOW_VALUE`] when the label is full).
    #[inline]
    pub fn open(&mut self, value: &str) {
        let Some(Dimension(Kind::Open(label))) = self.dimensions.get(self.next) else {
            not_open(self.next)
        };
        self.index = self.index * (label.max_values() + 1) + label.intern(value);
        self.next += 1;
    }
}

/// The panic of [`Slot::open`] on a closed dimension, out of line so the open path stays small.
#[cold]
#[inline(never)]
fn not_open(position: usize) -> ! {
    panic!("label {position} of the label set is open but the family's dimension is not")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_agrees_with_string_equality_at_every_length_and_position() {
        let base: String = ('a'..='z').chain('A'..='Z').collect();
        for len in 0..=base.len() {
            let a = &base[..len];
            // A copy at another address, so the comparison reads both.
            let copy = String::from(a);
            assert!(same_text(a, &copy), "{a:?}");
            for at in 0..len {
                let mut other = a.as_bytes().to_vec();
                other[at] = b'-';
                let other = String::from_utf8(other).expect("ASCII");
                assert!(!same_text(a, &other), "{a:?} vs {other:?}");
            }
            if len > 0 {
                assert!(!same_text(a, &base[..len - 1]), "{a:?} vs a prefix");
            }
        }
    }

    #[test]
    fn a_cache_hint_never_gives_another_values_id() {
        let label = OpenLabel::new("route", 8);
        let first = String::from("/users/{id}");
        let id = label.intern(&first);
        // A different text from the same address (the buffer reused) must not take the cached id.
        let mut reused = first;
        reused.replace_range(1..6, "items");
        let other = label.intern(&reused);
        assert_ne!(id, other);
        assert_eq!(label.intern("/users/{id}"), id);
        assert_eq!(label.intern(&reused), other);
    }
}
