//! Labels: closed enums, open interned strings, and the [`Slot`] cursor that turns a label set into an index.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, PoisonError, RwLock};

/// The value an open label takes once it has `max_values` distinct values, so the series count stays bounded.
pub const OVERFLOW_VALUE: &str = "other";

/// Entries in each thread's cache of recently interned values.
const RECENT_SLOTS: usize = 16;

/// A value some open label interned on this thread, with its id.
struct Recent {
    serial: u64,
    value: Arc<str>,
    id: usize,
}

thread_local! {
    /// Recently interned values of every open label, direct-mapped by label and string address; an entry
    /// is used only when label and text match, so an address reused by another string cannot mislead it.
    static RECENT: RefCell<[Option<Recent>; RECENT_SLOTS]> =
        const { RefCell::new([const { None }; RECENT_SLOTS]) };
}

/// The cache entry for `value` of the label `serial`: the same string passed again lands on the same entry.
#[inline]
fn recent_slot(serial: u64, value: &str) -> usize {
    let address = value.as_ptr() as usize;
    ((address >> 3) ^ (address >> 9) ^ serial as usize) % RECENT_SLOTS
}

/// Caches `id` for `value` in this thread's entry `slot`.
fn remember(slot: usize, serial: u64, value: Arc<str>, id: usize) {
    // During thread teardown the cache may be gone; the lookup still worked.
    let _ = RECENT.try_with(|recent| {
        recent.borrow_mut()[slot] = Some(Recent { serial, value, id });
    });
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
    /// Unique per label for the life of the process: the key of the per-thread cache (an address could be
    /// reused by a later label).
    serial: u64,
    name: &'static str,
    max_values: usize,
    interner: RwLock<Interner>,
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
        static SERIALS: AtomicU64 = AtomicU64::new(0);
        OpenLabel(Arc::new(OpenInner {
            serial: SERIALS.fetch_add(1, Relaxed),
            name,
            max_values,
            interner: RwLock::new(Interner::default()),
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
    /// A value this thread interned recently through the same string (the HTTP layer passes the route
    /// template axum shares between requests) is found in a small per-thread cache, with no lock and no
    /// hashing: a few comparisons, close to a closed label's cost. Otherwise known values and a full label
    /// take the read lock; the write lock is taken once per new value.
    #[inline]
    pub fn intern(&self, value: &str) -> usize {
        let inner = &*self.0;
        let slot = recent_slot(inner.serial, value);
        let cached = RECENT.try_with(|recent| match &recent.borrow()[slot] {
            Some(hit) if hit.serial == inner.serial && *hit.value == *value => Some(hit.id),
            _ => None,
        });
        match cached {
            Ok(Some(id)) => id,
            _ => self.intern_uncached(value, slot),
        }
    }

    /// [`intern`](Self::intern) past the per-thread cache, out of line so the cached path stays small.
    #[cold]
    #[inline(never)]
    fn intern_uncached(&self, value: &str, slot: usize) -> usize {
        let inner = &*self.0;
        if value == OVERFLOW_VALUE {
            return inner.max_values;
        }
        {
            let interner = inner
                .interner
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(&id) = interner.ids.get(value) {
                let value = Arc::clone(&interner.values[id]);
                remember(slot, inner.serial, value, id);
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
        remember(slot, inner.serial, value, id);
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
            panic!(
                "label {} of the label set is open but the family's dimension is not",
                self.next
            );
        };
        self.index = self.index * (label.max_values() + 1) + label.intern(value);
        self.next += 1;
    }
}
