//! The metric primitives and slot arithmetic on hand-written label sets shaped like the generator's.

mod support;

use slogen_runtime::{
    encode_text, Counter, Dimension, Family, Gauge, Histogram, LabelSet, LabelValue, MetricSet,
    OpenLabel, Slot, Visitor,
};

#[derive(Clone, Copy)]
enum Kind {
    Read,
    Write,
    Delete,
}

impl LabelValue for Kind {
    const VALUES: &'static [&'static str] = &["read", "write", "delete"];

    fn index(self) -> usize {
        self as usize
    }
}

/// Two open labels around a closed one, so decoding must get every radix right.
struct QueryLabels<'a> {
    table: &'a str,
    kind: Kind,
    tenant: &'a str,
}

impl LabelSet for QueryLabels<'static> {
    type Borrowed<'a> = QueryLabels<'a>;
    const NAMES: &'static [&'static str] = &["table", "kind", "tenant"];

    fn slot(labels: &QueryLabels<'_>, slot: &mut Slot<'_>) {
        slot.open(labels.table);
        slot.closed(labels.kind);
        slot.open(labels.tenant);
    }
}

struct Queries {
    queries: Family<QueryLabels<'static>, Counter>,
}

impl Queries {
    fn new() -> Self {
        let table = OpenLabel::new("table", 3);
        let tenant = OpenLabel::new("tenant", 2);
        Queries {
            queries: Family::new(
                "db_queries",
                "Queries sent, by table, kind and tenant.",
                None,
                vec![
                    Dimension::open(&table),
                    Dimension::closed::<Kind>(),
                    Dimension::open(&tenant),
                ],
                Counter::default,
            ),
        }
    }
}

impl MetricSet for Queries {
    fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.family(&self.queries);
    }
}

fn query<'a>(table: &'a str, kind: Kind, tenant: &'a str) -> QueryLabels<'a> {
    QueryLabels {
        table,
        kind,
        tenant,
    }
}

#[test]
fn several_open_labels_decode_to_the_recorded_values() {
    let set = Queries::new();
    set.queries.with(&query("users", Kind::Write, "acme")).inc();
    set.queries
        .with(&query("orders", Kind::Delete, "globex"))
        .inc_by(4);
    set.queries
        .with(&query("users", Kind::Read, "initech"))
        .inc();
    set.queries.with(&query("users", Kind::Read, "acme")).inc();

    let text = encode_text(&set);
    let samples: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("db_queries_total"))
        .collect();
    // Slot order: table id, then kind, then tenant id; ids follow first use.
    assert_eq!(
        samples,
        [
            r#"db_queries_total{table="users",kind="read",tenant="acme"} 1"#,
            r#"db_queries_total{table="users",kind="read",tenant="other"} 1"#,
            r#"db_queries_total{table="users",kind="write",tenant="acme"} 1"#,
            r#"db_queries_total{table="orders",kind="delete",tenant="globex"} 4"#,
        ]
    );
    assert!(text.ends_with(concat!(
        "slogen_label_values_dropped_total{label=\"table\"} 0\n",
        "slogen_label_values_dropped_total{label=\"tenant\"} 1\n",
        "# EOF\n"
    )));
    support::assert_promtool_accepts(&text, &["db_queries", "slogen_label_values_dropped"]);
}

/// A pinned text is found by its position in the label's cache: it must count in the series a plain string
/// would, also when the same text is a value of another label, and a full label must still fold it into
/// `other` and count each recording as dropped.
#[test]
fn pinned_texts_count_in_the_same_series_as_plain_strings() {
    let pinned = Queries::new();
    let plain = Queries::new();
    // `table` admits three values, so `carts` overflows; `users` is also a tenant, through another label.
    let tables = ["users", "orders", "items", "carts"];
    for _ in 0..3 {
        for (at, table) in tables.iter().enumerate() {
            let tenant = if at % 2 == 0 { "acme" } else { "users" };
            let (table_pin, tenant_pin) = (slogen_runtime::pin(table), slogen_runtime::pin(tenant));
            pinned
                .queries
                .with(&query(table_pin, Kind::Read, tenant_pin))
                .inc();
            let (table, tenant) = (table.to_string(), tenant.to_string());
            plain
                .queries
                .with(&query(&table, Kind::Read, &tenant))
                .inc();
        }
    }
    let text = encode_text(&pinned);
    assert_eq!(text, encode_text(&plain));
    assert!(
        text.contains(r#"db_queries_total{table="other",kind="read",tenant="users"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"db_queries_total{table="users",kind="read",tenant="acme"} 3"#),
        "{text}"
    );
    assert!(
        text.contains("slogen_label_values_dropped_total{label=\"table\"} 3\n"),
        "{text}"
    );
}

#[test]
fn open_label_values_are_escaped() {
    let set = Queries::new();
    set.queries
        .with(&query("a\"b\\c\nd", Kind::Read, "plain"))
        .inc();
    let text = encode_text(&set);
    assert!(
        text.contains(
            "db_queries_total{table=\"a\\\"b\\\\c\\nd\",kind=\"read\",tenant=\"plain\"} 1\n"
        ),
        "{text}"
    );
    support::assert_promtool_accepts(&text, &["db_queries", "slogen_label_values_dropped"]);
}

#[test]
fn a_set_without_open_labels_has_no_dropped_counter() {
    struct Plain {
        temperature: Family<slogen_runtime::NoLabels, Gauge>,
    }
    impl MetricSet for Plain {
        fn visit(&self, visitor: &mut dyn Visitor) {
            visitor.family(&self.temperature);
        }
    }
    let set = Plain {
        temperature: Family::new(
            "room",
            "Room temperature.",
            Some("celsius"),
            Vec::new(),
            Gauge::default,
        ),
    };
    set.temperature.set(-3);
    let text = encode_text(&set);
    assert_eq!(
        text,
        "# HELP room_celsius Room temperature.\n# TYPE room_celsius gauge\n# UNIT room_celsius celsius\nroom_celsius -3\n# EOF\n"
    );
    support::assert_promtool_accepts(&text, &[]);
}

#[test]
fn counter_and_gauge_operations() {
    let counter = Counter::default();
    counter.inc();
    counter.inc_by(41);
    assert_eq!(counter.get(), 42);

    let gauge = Gauge::default();
    gauge.inc();
    gauge.add(10);
    gauge.sub(4);
    gauge.dec();
    assert_eq!(gauge.get(), 6);
    gauge.set(-2);
    assert_eq!(gauge.get(), -2);
}

#[test]
fn histogram_buckets_are_upper_inclusive() {
    static BOUNDS: &[f64] = &[0.1, 1.0, 10.0];
    let histogram = Histogram::new(BOUNDS);
    for value in [
        -5.0,
        0.1,
        0.10000000000000002,
        1.0,
        10.0,
        10.5,
        f64::INFINITY,
    ] {
        histogram.observe(value);
    }
    assert_eq!(
        histogram.buckets(),
        [(0.1, 2), (1.0, 4), (10.0, 5), (f64::INFINITY, 7)]
    );
    assert_eq!(histogram.count(), 7);
    assert_eq!(histogram.sum(), f64::INFINITY);

    let nan = Histogram::new(BOUNDS);
    nan.observe(f64::NAN);
    assert_eq!(
        nan.buckets(),
        [(0.1, 0), (1.0, 0), (10.0, 0), (f64::INFINITY, 1)],
        "NaN counts as +Inf"
    );
    assert!(nan.sum().is_nan());
}

#[test]
fn histogram_sum_survives_concurrent_observations() {
    static BOUNDS: &[f64] = &[1.0];
    let histogram = Histogram::new(BOUNDS);
    std::thread::scope(|scope| {
        for value in [0.25, 2.0] {
            let histogram = &histogram;
            scope.spawn(move || (0..50_000).for_each(|_| histogram.observe(value)));
        }
    });
    assert_eq!(
        histogram.buckets(),
        [(1.0, 50_000), (f64::INFINITY, 100_000)]
    );
    assert_eq!(histogram.sum(), 112_500.0);
}

#[test]
#[should_panic(expected = "strictly increasing")]
fn histogram_rejects_unsorted_bounds() {
    Histogram::new(&[1.0, 0.5]);
}

#[test]
#[should_panic(expected = "2 dimensions for labels")]
fn family_rejects_a_dimension_count_that_does_not_match_the_labels() {
    let table = OpenLabel::new("table", 3);
    let _: Family<QueryLabels<'static>, Counter> = Family::new(
        "db_queries",
        "Queries.",
        None,
        vec![Dimension::open(&table), Dimension::closed::<Kind>()],
        Counter::default,
    );
}

#[test]
#[should_panic(expected = "open label `tenant` used as `table`")]
fn family_rejects_an_open_label_under_another_name() {
    let tenant = OpenLabel::new("tenant", 3);
    let _: Family<QueryLabels<'static>, Counter> = Family::new(
        "db_queries",
        "Queries.",
        None,
        vec![
            Dimension::open(&tenant),
            Dimension::closed::<Kind>(),
            Dimension::open(&tenant),
        ],
        Counter::default,
    );
}

#[test]
fn the_per_thread_intern_cache_never_mixes_labels_or_values() {
    let a = OpenLabel::new("a", 2);
    let b = OpenLabel::new("b", 2);
    let mut route = String::from("/x");
    assert_eq!(a.intern(&route), 0);
    assert_eq!(b.intern("/y"), 0);
    // The same string, so the same cache entry, for another label: its own id.
    assert_eq!(b.intern(&route), 1);
    assert_eq!(a.intern(&route), 0);
    // The same buffer with new text: the entry is checked by text, so this is a new value.
    route.replace_range(.., "/z");
    assert_eq!(a.intern(&route), 1);
    assert_eq!(a.intern("/x"), 0);
    // Full: a third value overflows and is counted; the cached ones still resolve.
    assert_eq!(a.intern("/w"), 2);
    assert_eq!(a.dropped(), 1);
    assert_eq!(a.intern(&route), 1);
    assert_eq!(a.dropped(), 1);
}
